import {
  isGrpcDeadlineError,
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
  type WorkflowHandle,
  type WorkflowStartOptions,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { orderFulfillment } from '../workflows';
import { orderWorkflowId, placeOrderUpdate, type OrderAcceptance, type OrderInput } from '../workflows/definitions';
import { CUSTOMER_ID, ORDER_STATUS, ORDER_STEP } from '../workflows/search-attributes';

/**
 * How an order's workflow is started (the API; the benchmark's and the tests' client-side orders use the same
 * options). The workflow ID comes from the order ID; a finished order's ID is never reused (REJECT_DUPLICATE), and a
 * running one is joined (USE_EXISTING), so a repeated request reaches the same run. The search attributes make the
 * order searchable from its first moment without the workflow spending history events to set them. No memo: nothing
 * needs one, and memos (like search attributes) are not encrypted.
 */
export function orderStartOptions(input: OrderInput, taskQueue: string): WorkflowStartOptions<typeof orderFulfillment> {
  return {
    taskQueue,
    workflowId: orderWorkflowId(input.orderId),
    args: [input],
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    typedSearchAttributes: [
      { key: CUSTOMER_ID, value: input.customerId },
      { key: ORDER_STATUS, value: 'RUNNING' },
      { key: ORDER_STEP, value: 'received' },
    ],
  };
}

/** What placing an order can come to. */
export type PlaceOrderAnswer =
  /** Stock reserved, harvest task open (possibly for an earlier identical request). */
  | { kind: 'accepted'; acceptance: OrderAcceptance }
  /** The workflow refused the order: out of stock, or the key was used with another body (`failure.type`). */
  | { kind: 'refused'; failure: ApplicationFailure }
  /** The order's run already ended: its answer is in the order's record, not in a running workflow. */
  | { kind: 'finished' }
  /** No answer within the deadline: the run is started (or queued) and a repeat of the request will find it. */
  | { kind: 'pending' };

/**
 * Start the order's run and wait for its first decision in the same call (update-with-start): the `placeOrder`
 * Update answers once the stock is reserved and the crew has a task, or refuses. Everything after that runs on
 * asynchronously. Waits at most `timeoutMs`.
 */
export async function placeOrder(
  client: Client,
  input: OrderInput,
  options: { taskQueue: string; timeoutMs: number },
): Promise<PlaceOrderAnswer> {
  const startWorkflowOperation = new WithStartWorkflowOperation('orderFulfillment', {
    ...orderStartOptions(input, options.taskQueue),
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  try {
    const acceptance = await client.withDeadline(Date.now() + options.timeoutMs, () =>
      client.workflow.executeUpdateWithStart(placeOrderUpdate, {
        args: [{ requestHash: input.requestHash }],
        startWorkflowOperation,
      }),
    );
    return { kind: 'accepted', acceptance };
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return { kind: 'finished' };
    if (error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure) {
      return { kind: 'refused', failure: error.cause };
    }
    if (error instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isGrpcDeadlineError(error)) {
      return { kind: 'pending' };
    }
    throw error;
  }
}

/**
 * Place an order the way the API does and return its handle once it is accepted: the one call client-side code
 * (the benchmark, scripts) uses, so a change in how orders start reaches them all.
 */
export async function startOrder(
  client: Client,
  input: OrderInput,
  taskQueue: string,
  timeoutMs = 60_000,
): Promise<WorkflowHandle<typeof orderFulfillment>> {
  const answer = await placeOrder(client, input, { taskQueue, timeoutMs });
  if (answer.kind !== 'accepted') {
    const why = answer.kind === 'refused' ? `${answer.failure.type}: ${answer.failure.message}` : answer.kind;
    throw new Error(`Order ${input.orderId} was not accepted (${why})`);
  }
  return client.workflow.getHandle<typeof orderFulfillment>(orderWorkflowId(input.orderId));
}

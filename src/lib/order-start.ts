import type { Client, WorkflowStartOptions } from '@temporalio/client';
import { orderWorkflowId, type OrderInput } from '../workflows/definitions';
import type { orderFulfillment } from '../workflows';
import { CUSTOMER_ID, ORDER_STATUS, ORDER_STEP } from '../workflows/search-attributes';

/**
 * How an order's workflow is started (the API; the benchmark's client-side orders use the same options).
 *
 * The workflow ID comes from the order ID, so a key already used, by a running or a finished order, fails the start
 * with WorkflowExecutionAlreadyStartedError (the default conflict policy; finished orders' IDs are never reused) and
 * the caller answers with that order. A new order thus costs one RPC: attaching with `USE_EXISTING` would need a
 * second one (describe) to tell a replayed request from a new order.
 */
export function orderStartOptions(input: OrderInput, taskQueue: string): WorkflowStartOptions<typeof orderFulfillment> {
  return {
    taskQueue,
    workflowId: orderWorkflowId(input.orderId),
    args: [input],
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    memo: { requestHash: input.requestHash, customerId: input.customerId },
    // Searchable from the first moment, without the workflow spending history events to set them.
    typedSearchAttributes: [
      { key: CUSTOMER_ID, value: input.customerId },
      { key: ORDER_STATUS, value: 'RUNNING' },
      { key: ORDER_STEP, value: 'received' },
    ],
  };
}

/**
 * Start an order's workflow with `orderStartOptions`: the one call client-side code (the benchmark, scripts) uses,
 * so a change in how orders start reaches them all.
 */
export function startOrder(client: Client, input: OrderInput, taskQueue: string) {
  return client.workflow.start<typeof orderFulfillment>('orderFulfillment', orderStartOptions(input, taskQueue));
}

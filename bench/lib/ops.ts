/**
 * The operations the bench times, one per system: a ceiling workflow on the ceiling worker, our order started
 * through the client (as the API starts it), our order through `POST /orders`, and our workflow on no-op activities
 * (ceiling O). Each resolves with its timings (`accepted`, `completed`) once the workflow completed.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { startOrder as startOrderWorkflow } from '../../src/lib/order-start';
import {
  harvestCompletedSignal,
  harvestTaskId,
  orderWorkflowId,
  type OrderInput,
} from '../../src/workflows/definitions';
import { now, request, type OpTimings } from './load';
import { CEILING_TASK_QUEUE, ORDER_TASK_QUEUE, STUB_TASK_QUEUE } from './stack';

export const ADDRESS = {
  name: 'Dana Demo',
  line1: '1 Orchard Lane',
  city: 'Springfield',
  postalCode: '12345',
  country: 'US',
};
export const LINES = [
  { sku: 'TOM-HEIRLOOM', quantity: 2 },
  { sku: 'LET-BUTTER', quantity: 1 },
];
const ORDER_BODY = { lines: LINES, shippingAddress: ADDRESS };
const CUSTOMER_HEADERS = { authorization: 'Bearer demo-customer-key' };
const OP_TIMEOUT_MS = 120_000;

/** One timed operation; `ids` collects the workflow IDs it started (for the history samples). */
export type Op = (i: number, start: number, ids: string[]) => Promise<OpTimings>;

export interface Operations {
  systems: Record<string, Op>;
  oursHttpOp: Op;
  /** Start an order as the API does (same options), without HTTP. */
  startOrder: (orderId: string, taskQueue?: string) => ReturnType<typeof startOrderWorkflow>;
  /** POST /orders; resolves with the order ID and the time to the 202. */
  postOrder: (start: number) => Promise<{ orderId: string; accepted: number }>;
  harvestReport: (orderId: string) => { taskId: string; yields: typeof LINES; reportedBy: string };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    }),
  ]);
}

export function orderInput(orderId: string): OrderInput {
  return {
    orderId,
    customerId: 'cust-demo',
    lines: LINES,
    acceptPartial: false,
    currency: 'USD',
    paymentMethod: 'pm_card_visa',
    shippingAddress: ADDRESS,
    requestHash: `bench-${orderId}`,
    submittedAt: new Date().toISOString(),
  };
}

export function createOperations(deps: { client: Client; apiUrl: string; nextId: (prefix: string) => string }) {
  const { client, apiUrl, nextId } = deps;
  const harvestReport = (orderId: string) => ({
    taskId: harvestTaskId(orderId),
    yields: LINES,
    reportedBy: 'crew:bench',
  });

  const startOrder = (orderId: string, taskQueue = ORDER_TASK_QUEUE) =>
    startOrderWorkflow(client, orderInput(orderId), taskQueue);

  const expectCompleted = async (handle: WorkflowHandle, what: string) => {
    const result = (await withTimeout(handle.result(), OP_TIMEOUT_MS, `${what} result`)) as unknown;
    if (typeof result === 'object' && result !== null && 'status' in result && result.status !== 'COMPLETED') {
      throw new Error(`${what} ended ${String(result.status)}`);
    }
  };

  const ceilingOp =
    (workflowType: 'bareWorkflow' | 'sixActivities' | 'orderShaped'): Op =>
    async (_i, start, ids) => {
      const id = nextId(workflowType);
      ids.push(id);
      const handle = await client.workflow.start(workflowType, {
        taskQueue: CEILING_TASK_QUEUE,
        workflowId: id,
        args: [{ id, order: orderInput(id) }],
      });
      const accepted = now() - start;
      if (workflowType === 'orderShaped') await handle.signal('harvestCompleted', harvestReport(id));
      await expectCompleted(handle, id);
      return { accepted, completed: now() - start };
    };

  /** Our order through the client on `taskQueue`: the order worker's, or the ceiling worker's no-op activities. */
  const clientOrderOp =
    (prefix: string, taskQueue: string): Op =>
    async (_i, start, ids) => {
      const orderId = `o-${nextId(prefix)}`;
      ids.push(orderWorkflowId(orderId));
      const handle = await startOrder(orderId, taskQueue);
      const accepted = now() - start;
      // The workflow's handler stores the report and its condition() sees it once the harvest task exists.
      await handle.signal(harvestCompletedSignal, harvestReport(orderId));
      await expectCompleted(handle, orderId);
      return { accepted, completed: now() - start };
    };

  const postOrder = async (start: number): Promise<{ orderId: string; accepted: number }> => {
    const answer = await request(
      `${apiUrl}/orders`,
      'POST',
      { ...CUSTOMER_HEADERS, 'idempotency-key': nextId('k') },
      ORDER_BODY,
    );
    const accepted = now() - start;
    if (answer.status !== 202) throw new Error(`POST /orders answered ${answer.status}: ${answer.body.slice(0, 200)}`);
    const { orderId } = JSON.parse(answer.body) as { orderId: string };
    return { orderId, accepted };
  };

  const oursHttpOp: Op = async (_i, start, ids) => {
    const { orderId, accepted } = await postOrder(start);
    ids.push(orderWorkflowId(orderId));
    const handle = client.workflow.getHandle(orderWorkflowId(orderId));
    await handle.signal(harvestCompletedSignal, harvestReport(orderId));
    await expectCompleted(handle, orderId);
    return { accepted, completed: now() - start };
  };

  const systems: Record<string, Op> = {
    ceilingA: ceilingOp('bareWorkflow'),
    ceilingB: ceilingOp('sixActivities'),
    ceilingC: ceilingOp('orderShaped'),
    // The real orderFulfillment on the ceiling worker, with no-op activities (bench/stub-activities.ts).
    ceilingO: clientOrderOp('stub', STUB_TASK_QUEUE),
    oursClient: clientOrderOp('cl', ORDER_TASK_QUEUE),
    oursHttp: oursHttpOp,
  };
  return { systems, oursHttpOp, startOrder, postOrder, harvestReport } satisfies Operations;
}

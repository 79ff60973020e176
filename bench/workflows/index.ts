/**
 * Ceiling workflows for the benchmark: what the Temporal dev server and the TypeScript SDK can do
 * on this machine with no business code at all. Bundled on their own and run by their own worker
 * (bench/ceiling-worker.ts) on their own task queue, next to the real order worker.
 *
 *   A  bareWorkflow:        no activities, returns at once.
 *   B  sixActivities:       six no-op activities in sequence (the six steps of an order).
 *   C  orderShaped:         the command shape of orderFulfillment on the happy path - three activities, a wait
 *                           for the harvest signal, seven activities - with no-op activities.
 */
import { condition, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';

export interface NoopActivities {
  noop(step: string, payload: unknown): Promise<{ step: string }>;
}

// The same timeout and retry shape as the order workflow's database steps.
const { noop } = proxyActivities<NoopActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 10 },
});

export interface CeilingInput {
  id: string;
  /** The order input, so the start payload is the size of an order's. */
  order?: unknown;
}

/** Named like the order workflow's signal, so the same client code releases both. */
export const releaseSignal = defineSignal<[unknown]>('harvestCompleted');

export async function bareWorkflow(input: CeilingInput): Promise<string> {
  return input.id;
}

export const SIX_STEPS = ['reserve-inventory', 'harvest', 'pack', 'charge', 'book-carrier', 'notify'] as const;

export async function sixActivities(input: CeilingInput): Promise<string> {
  for (const step of SIX_STEPS) await noop(step, { orderId: input.id });
  return input.id;
}

/** orderFulfillment's happy path, command for command, with no-op activities. */
export async function orderShaped(input: CeilingInput): Promise<string> {
  let released = false;
  setHandler(releaseSignal, () => {
    released = true;
  });
  for (const step of ['recordOrder', 'reserveInventory', 'createHarvestTask']) await noop(step, { orderId: input.id });
  await condition(() => released, '1 day');
  for (const step of [
    'recordHarvest',
    'packOrder',
    'chargeOrder',
    'bookCarrier',
    'confirmPickup',
    'notifyCustomer',
    'markOrder',
  ]) {
    await noop(step, { orderId: input.id });
  }
  return input.id;
}

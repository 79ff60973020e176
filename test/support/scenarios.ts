import type { WorkflowHandle } from '@temporalio/client';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import type { orderFulfillment } from '../../src/workflows';
import {
  harvestCompletedSignal,
  harvestTaskId,
  type HarvestYield,
  type OrderInput,
  type OrderStatusView,
} from '../../src/workflows/definitions';
import { waitForStatus, type WorkflowHarness } from './workflow-harness';

/** Shared helpers for the failure-semantics workflow tests: stock snapshots, row readers, gates, failure chains. */

export type OrderHandle = WorkflowHandle<typeof orderFulfillment>;

export interface Stock {
  available: number;
  reserved: number;
}

/** Available and reserved stock of every SKU, read from Postgres. */
export async function stock(h: WorkflowHarness): Promise<Record<string, Stock>> {
  const rows = await h.db.query<{ sku: string; available: number; reserved: number }>(
    'select sku, available, reserved from products',
  );
  return Object.fromEntries(rows.map((r) => [r.sku, { available: r.available, reserved: r.reserved }]));
}

/** The order's audit trail, oldest first. */
export async function eventTypes(h: WorkflowHarness, orderId: string): Promise<string[]> {
  const rows = await h.db.query<{ event_type: string }>(
    'select event_type from order_events where order_id = $1 order by version',
    [orderId],
  );
  return rows.map((r) => r.event_type);
}

/** Every row of `table` for the order, oldest first. */
export async function rowsOf<T extends Record<string, unknown> = Record<string, unknown>>(
  h: WorkflowHarness,
  table: string,
  orderId: string,
  columns = '*',
): Promise<T[]> {
  return h.db.query<T>(`select ${columns} from ${table} where order_id = $1 order by created_at`, [orderId]);
}

export async function orderRow(h: WorkflowHarness, orderId: string) {
  const [row] = await h.db.query<{
    status: string;
    step: string;
    charged_cents: number | null;
    refunded_cents: number;
    outcome_reason: string | null;
  }>('select status, step, charged_cents, refunded_cents, outcome_reason from orders where id = $1', [orderId]);
  return row;
}

/** Yields equal to what was ordered. */
export function fullYield(input: OrderInput): HarvestYield[] {
  return input.lines.map((l) => ({ sku: l.sku, quantity: l.quantity }));
}

/** Wait for the order to wait on its crew, then report `yields`. */
export async function reportHarvest(
  handle: OrderHandle,
  input: OrderInput,
  yields: HarvestYield[] = fullYield(input),
): Promise<void> {
  await waitForStatus(handle, (v) => v.status === 'AWAITING_HARVEST');
  await handle.signal(harvestCompletedSignal, {
    taskId: harvestTaskId(input.orderId),
    yields,
    reportedBy: 'crew:test',
  });
}

/** A promise the test resolves when it chooses; `entered` tells the test the held activity is running. */
export function gate() {
  let release!: () => void;
  let markEntered!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const entered = new Promise<void>((resolve) => (markEntered = resolve));
  return { release, released, entered, markEntered };
}

/** Poll (real time) until `check` returns a truthy value. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition never became true');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Await a workflow that must fail and unpack its failure chain:
 * WorkflowFailedError -> ApplicationFailure (business type) -> optional ActivityFailure -> ApplicationFailure.
 */
export async function workflowFailure(result: Promise<unknown>): Promise<{
  error: WorkflowFailedError;
  failure: ApplicationFailure;
  activity?: ActivityFailure;
  root?: ApplicationFailure;
}> {
  const error = await result.then(
    (value) => {
      throw new Error(`expected the workflow to fail, it returned ${JSON.stringify(value)}`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WorkflowFailedError);
  const wf = error as WorkflowFailedError;
  expect(wf.cause).toBeInstanceOf(ApplicationFailure);
  const failure = wf.cause as ApplicationFailure;
  const activity = failure.cause instanceof ActivityFailure ? failure.cause : undefined;
  const bottom = activity ? activity.cause : failure.cause;
  const root = bottom instanceof ApplicationFailure ? bottom : undefined;
  return { error: wf, failure, activity, root };
}

/**
 * Wait until the workflow is idle: no activity is open and the workflow has seen every activity result. Signals that cancel
 * activities must wait for this: the time-skipping test server rejects a workflow task that asks to cancel an
 * activity which completed in the meantime ("ACTIVITY_UNKNOWN"), and the run then stalls.
 */
export async function waitUntilIdle(handle: OrderHandle): Promise<void> {
  await eventually(async () => {
    const events = (await handle.fetchHistory()).events ?? [];
    const closed = new Set<string>();
    let lastClose = -1;
    let lastTaskCompleted = -1;
    let lastTaskScheduled = -1;
    events.forEach((e, index) => {
      const end =
        e.activityTaskCompletedEventAttributes ??
        e.activityTaskFailedEventAttributes ??
        e.activityTaskTimedOutEventAttributes ??
        e.activityTaskCanceledEventAttributes;
      if (end) {
        closed.add(String(end.scheduledEventId));
        lastClose = index;
      }
      if (e.workflowTaskCompletedEventAttributes) lastTaskCompleted = index;
      if (e.workflowTaskScheduledEventAttributes) lastTaskScheduled = index;
    });
    const allClosed = events.every((e) => !e.activityTaskScheduledEventAttributes || closed.has(String(e.eventId)));
    // Every activity result has been handed to the workflow, and no workflow task is pending.
    return allClosed && lastTaskCompleted > lastClose && lastTaskCompleted > lastTaskScheduled;
  });
}

/**
 * Park the order at once: both carriers refuse their next booking (a refusal is not retried), so the order reaches
 * NEEDS_ATTENTION without retry backoff. Returns once the workflow waits for its operator.
 */
export async function parkAtOnce(h: WorkflowHarness, handle: OrderHandle, input: OrderInput): Promise<OrderStatusView> {
  await h.admin.setFaults({ primary: { refuseNext: 1 }, backup: { refuseNext: 1 } });
  await reportHarvest(handle, input);
  const parked = await waitForStatus(handle, (v) => v.status === 'NEEDS_ATTENTION');
  // The status flips before the parking is recorded in Postgres; wait until that activity is done too.
  await waitUntilIdle(handle);
  return parked;
}

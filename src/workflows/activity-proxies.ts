/**
 * How the order workflow calls its activities: named timeout and retry presets, one proxy per kind of call.
 *
 * Retry policies list no error types: every business failure is created non-retryable (./failures), so a policy
 * only ever retries transient errors.
 */
import {
  ActivityCancellationType,
  proxyActivities,
  proxyLocalActivities,
  type ActivityOptions,
  type LocalActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities';

/**
 * Steps that only touch our own PostgreSQL run as local activities: inside the workflow task of the worker that runs
 * the workflow, each leaving one marker in the history instead of a scheduled/started/completed activity plus a
 * workflow task round trip through the server. That is sound for them: they take milliseconds, are idempotent
 * (keyed by the order) and a retry after a worker crash re-runs them harmlessly.
 */
const DATABASE = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 10 },
} as const satisfies LocalActivityOptions;

/**
 * Provider calls stay regular activities, so while one retries it shows as a pending activity with its last failure
 * in the Web UI. Those with side effects wait for cancellation to complete, so a compensation never races the step
 * it undoes.
 */
export const PRESETS = {
  /** Gateway errors and timeouts retry with the same idempotency key; declines do not. */
  payment: {
    startToCloseTimeout: '1 minute',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 12 },
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  },
  /** Each carrier gets its own small budget, so a dead primary hands over to the backup quickly. */
  carrier: {
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 3 },
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  },
  /**
   * The hand-over runs in a non-cancellable scope and keeps trying: once it starts, the parcel is the carrier's. It
   * counts as done at the carrier's acceptance scan, which with a real carrier can be hours after the pickup was
   * booked, so it retries (every 10 minutes at most) for up to the parking time before giving up.
   */
  pickup: {
    startToCloseTimeout: '30 seconds',
    scheduleToCloseTimeout: '3 days',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 minutes' },
  },
  /** Notifications never fail an order; a few attempts, then the failure is recorded. */
  notify: {
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
  },
  /** Compensations are retried for a long time; if they still fail, the order ends FAILED. */
  compensation: {
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 20 },
  },
} as const satisfies Record<string, ActivityOptions>;

/** recordOrder, reserveInventory, createHarvestTask, recordHarvest, packOrder, markOrder. */
export const database = proxyLocalActivities<Activities>(DATABASE);
/** chargeOrder. */
export const payments = proxyActivities<Activities>(PRESETS.payment);
/** bookCarrier. */
export const carriers = proxyActivities<Activities>(PRESETS.carrier);
/** confirmPickup. */
export const pickups = proxyActivities<Activities>(PRESETS.pickup);
/** notifyCustomer. */
export const notifications = proxyActivities<Activities>(PRESETS.notify);
/** releaseReservation, cancelHarvest, unpackOrder, refundOrder, voidLabel. */
export const compensations = proxyActivities<Activities>(PRESETS.compensation);

/** A call with a summary the Web UI shows for the activity (or the local activity's marker). */
export function summarised<O extends ActivityOptions | LocalActivityOptions>(options: O, summary: string): O {
  return { ...options, summary };
}

export { DATABASE as DATABASE_PRESET };

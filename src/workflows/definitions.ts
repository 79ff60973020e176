/**
 * The contract of the order workflow: IDs, messages, status types and the pure rules the workflow
 * shares with the API. Imported by workflow code, so it must stay free of Node, Prisma and config.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

/** Default task queue; deployments may override it with TEMPORAL_TASK_QUEUE. */
export const DEFAULT_TASK_QUEUE = 'harvest-to-door';

/** Workflow ID for an order. Derived from the order, never the run, so resets and retries keep it. */
export function orderWorkflowId(orderId: string): string {
  return `order-${orderId}`;
}

/** The harvest task a crew reports against; one per order. */
export function harvestTaskId(orderId: string): string {
  return `hv-${orderId}`;
}

/** Idempotency keys for provider calls: from the order, so a reset run replays instead of repeating. */
export const idempotencyKeys = {
  charge: (orderId: string) => `order:${orderId}:charge`,
  refund: (orderId: string) => `order:${orderId}:refund`,
  notification: (orderId: string, kind: NotificationKind) => `order:${orderId}:notify:${kind}`,
};

export type CarrierName = 'primary' | 'backup';
export type NotificationKind = 'confirmation' | 'cancellation';

export interface Address {
  name: string;
  line1: string;
  city: string;
  postalCode: string;
  country: string;
}

export interface OrderLineInput {
  sku: string;
  quantity: number;
}

/** What the API hands to the workflow; the workflow's first step records it in Postgres. */
export interface OrderInput {
  orderId: string;
  customerId: string;
  lines: OrderLineInput[];
  /** Charge for what was harvested when a crop yields short, rather than cancelling. */
  acceptPartial: boolean;
  currency: string;
  paymentMethod: string;
  shippingAddress: Address;
  /** sha256 of the canonical request body, to detect an Idempotency-Key reused with another body. */
  requestHash: string;
  submittedAt: string;
}

/** The steps in the order they run. */
export const ORDER_STEPS = ['reserve-inventory', 'harvest', 'pack', 'charge', 'book-carrier', 'notify'] as const;
export type OrderStep = 'received' | (typeof ORDER_STEPS)[number] | 'done';

/**
 * Where an order stands.
 * - RUNNING: a step is in progress; AWAITING_HARVEST: waiting for the crew's report.
 * - NEEDS_ATTENTION: both carriers failed; an operator must retry the booking or cancel.
 * - COMPENSATING: undoing completed steps after a failure or a cancel.
 * - COMPLETED: harvested, charged, shipped. CANCELLED: nothing delivered, every step undone.
 * - FAILED: a compensation could not be completed; an operator must finish it by hand.
 */
export type OrderStatus =
  'RUNNING' | 'AWAITING_HARVEST' | 'NEEDS_ATTENTION' | 'COMPENSATING' | 'COMPLETED' | 'CANCELLED' | 'FAILED';

export const TERMINAL_STATUSES: readonly OrderStatus[] = ['COMPLETED', 'CANCELLED', 'FAILED'];

/**
 * What the workflow hands to every activity that records a step: the order's status, step and reason as the
 * workflow's state decides them. Activities write it; they never choose a status of their own.
 */
export interface OrderProgress {
  status: OrderStatus;
  step: OrderStep;
  reason: string | null;
}

export interface HarvestYield {
  sku: string;
  quantity: number;
}

/** Message payloads (each is both a signal, for `temporal workflow signal`, and an Update). */
export interface HarvestCompleted {
  taskId: string;
  yields: HarvestYield[];
  reportedBy: string;
}
export interface CancelOrder {
  reason: string;
  requestedBy: string;
}
export interface RetryCarrierBooking {
  requestedBy: string;
  note?: string;
}

/** The argument of the `placeOrder` Update the API sends with the start: the body hash of this request. */
export interface PlaceOrder {
  requestHash: string;
}

/** Product facts the harvest window is derived from (returned by reserve-inventory). */
export interface ReservedLine {
  sku: string;
  quantity: number;
  unitPriceCents: number;
  harvestLeadDays: number;
  shelfLifeDays: number;
}

/** The answer to `placeOrder`: stock is reserved and the crew has a task. Everything after this is asynchronous. */
export interface OrderAcceptance {
  orderId: string;
  lines: { sku: string; quantity: number; unitPriceCents: number }[];
  harvestTask: { taskId: string; dueBy: string };
  /** False for the first caller of a new order; true when the same order was placed before (same key and body). */
  replayed: boolean;
}

/** One SKU an order asked more of than there was, as `OutOfStock` details carry it. */
export interface StockShortage {
  sku: string;
  requested: number;
  available: number;
}

/** The answer to an accepted `cancelOrder` Update: the workflow is undoing the order (or already was). */
export interface CancelAccepted {
  orderId: string;
  /** True when the order was already being cancelled or compensated: nothing new happens. */
  alreadyCancelling: boolean;
}

/** The answer to an accepted `reportHarvest` Update: the workflow holds these yields and goes on with them. */
export interface HarvestAccepted {
  orderId: string;
  taskId: string;
  yields: HarvestYield[];
}

/** The answer to an accepted `retryCarrierBooking` Update: the booking is tried again with both carriers. */
export interface RetryAccepted {
  orderId: string;
}

export interface TimelineEntry {
  step: OrderStep | 'compensation' | 'cancel';
  state: 'started' | 'completed' | 'failed' | 'waiting' | 'info';
  at: string;
  detail?: string;
}

export interface CompensationOutcome {
  name: string;
  state: 'completed' | 'failed';
  at: string;
  error?: string;
}

export interface ShipmentView {
  carrier: CarrierName;
  labelId: string;
  trackingNumber: string;
  pickupDate: string;
  pickedUp: boolean;
}

export interface CarrierAttempt {
  carrier: CarrierName;
  round: number;
  outcome: 'booked' | 'failed';
  detail?: string;
}

/** What the `status` query returns: enough for an operator to understand the order at a glance. */
export interface OrderStatusView {
  orderId: string;
  status: OrderStatus;
  step: OrderStep;
  /** One sentence on why the order is where it is (cancel reason, failure, what it waits for). */
  reason?: string;
  timeline: TimelineEntry[];
  compensations: CompensationOutcome[];
  harvest?: { taskId: string; dueBy: string; yields?: HarvestYield[] };
  payment?: { chargeId: string; amountCents: number; currency: string };
  shipment?: ShipmentView;
  carrierAttempts: CarrierAttempt[];
  cancelRequest?: CancelOrder & { at: string; honoured: boolean };
}

export interface OrderResult {
  orderId: string;
  status: 'COMPLETED' | 'CANCELLED';
  chargedCents?: number;
  trackingNumber?: string;
  carrier?: CarrierName;
  reason?: string;
}

/**
 * Messages. Decisions a caller waits on are Updates: the validator refuses (with a failure type from
 * `./failures`), the handler changes the order. The same decisions also arrive as signals from the
 * `temporal workflow signal` recipes; both go through the same decision functions (./order-state), so they never
 * disagree. A refused signal is noted in the order's timeline.
 */
export const placeOrderUpdate = defineUpdate<OrderAcceptance, [PlaceOrder]>('placeOrder');
export const cancelOrderUpdate = defineUpdate<CancelAccepted, [CancelOrder]>('cancelOrder');
export const reportHarvestUpdate = defineUpdate<HarvestAccepted, [HarvestCompleted]>('reportHarvest');
export const retryCarrierBookingUpdate = defineUpdate<RetryAccepted, [RetryCarrierBooking]>('retryCarrierBooking');

export const harvestCompletedSignal = defineSignal<[HarvestCompleted]>('harvestCompleted');
export const cancelOrderSignal = defineSignal<[CancelOrder]>('cancelOrder');
export const retryCarrierBookingSignal = defineSignal<[RetryCarrierBooking]>('retryCarrierBooking');
export const statusQuery = defineQuery<OrderStatusView>('status');

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * How long to wait for the crew's harvest report: the slowest crop's lead time, plus a grace of
 * the most perishable crop's shelf life (a late harvest is still worth shipping while the most
 * delicate item would still arrive fresh), capped at 30 days so no order waits forever.
 */
export function harvestWindowMs(lines: readonly Pick<ReservedLine, 'harvestLeadDays' | 'shelfLifeDays'>[]): number {
  if (lines.length === 0) return DAY_MS;
  const lead = Math.max(...lines.map((line) => line.harvestLeadDays));
  const grace = Math.min(...lines.map((line) => line.shelfLifeDays));
  return Math.min(Math.max(lead + grace, 1), 30) * DAY_MS;
}

/** How long an order parked in NEEDS_ATTENTION waits for an operator before it is compensated. */
export const PARKED_TIMEOUT = '3 days';

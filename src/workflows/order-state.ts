/**
 * The state of one order, owned by its workflow: the view the `status` query returns, the events that change it,
 * and the decisions callers wait on (may it be cancelled now? is this harvest report acceptable? may the booking be
 * retried?). Pure: no Temporal calls, no I/O, so it is tested with plain jest (test/workflows/order-state.test.ts)
 * and the workflow, its Update validators, its signal handlers and the API's documentation all rely on the same
 * rules. The only writer of an order's status: activities record the {@link OrderProgress} they are handed.
 */
import type { RefusalType } from './failures';
import {
  harvestTaskId,
  PARKED_TIMEOUT,
  TERMINAL_STATUSES,
  type CancelOrder,
  type CarrierName,
  type CompensationOutcome,
  type HarvestCompleted,
  type HarvestYield,
  type OrderInput,
  type OrderProgress,
  type OrderStatus,
  type OrderStatusView,
  type OrderStep,
  type RetryCarrierBooking,
  type ShipmentView,
  type TimelineEntry,
} from './definitions';

/** One field of a refused harvest report, in the shape the API's problem documents use. */
export interface ReportError {
  path: string;
  message: string;
}

/** The outcome of a decision: accepted, or refused with a failure type from ./failures and a sentence. */
export type Decision =
  { accepted: true } | { accepted: false; refusal: RefusalType; message: string; errors?: ReportError[] };

const ACCEPT: Decision = { accepted: true };
const refuse = (refusal: RefusalType, message: string, errors?: ReportError[]): Decision => ({
  accepted: false,
  refusal,
  message,
  ...(errors ? { errors } : {}),
});

export class OrderState {
  readonly orderId: string;
  readonly taskId: string;
  readonly view: OrderStatusView;
  /** Ordered quantity per SKU: what a harvest report is checked against. */
  private readonly ordered: ReadonlyMap<string, number>;
  /** The order's status in the database when this run recorded it: a reset run of a finished order sees it ended. */
  private recordedAs: OrderStatus | undefined;
  /** Set once the parcel is handed to the carrier: from then on a cancel is too late. */
  private handedOver = false;
  /** The crew's report, once accepted; the workflow goes on with it when it reaches the harvest wait. */
  harvestReport: HarvestCompleted | undefined;
  /** An operator's retry of a parked booking, until the workflow takes it up. */
  retryRequest: RetryCarrierBooking | undefined;

  constructor(
    input: Pick<OrderInput, 'orderId' | 'lines'>,
    private readonly now: () => string = () => new Date().toISOString(),
  ) {
    this.orderId = input.orderId;
    this.taskId = harvestTaskId(input.orderId);
    this.ordered = new Map(input.lines.map((line) => [line.sku, line.quantity]));
    this.view = {
      orderId: input.orderId,
      status: 'RUNNING',
      step: 'received',
      timeline: [],
      compensations: [],
      carrierAttempts: [],
    };
  }

  // --- what the workflow asks -------------------------------------------------------------------

  /** Status, step and reason as the activities must record them. */
  progress(): OrderProgress {
    return { status: this.view.status, step: this.view.step, reason: this.view.reason ?? null };
  }

  get recorded(): boolean {
    return this.recordedAs !== undefined;
  }

  /** A cancel was accepted (by Update or signal): the order is being undone because the customer asked. */
  get cancelledOnRequest(): boolean {
    return this.view.cancelRequest?.honoured === true;
  }

  /** A cancel is accepted up to the moment the carrier has the parcel, and never once the order ended. */
  decideCancel(): Decision {
    const status = this.recordedAs !== undefined && isTerminal(this.recordedAs) ? this.recordedAs : this.view.status;
    if (this.handedOver || status === 'COMPLETED') {
      return refuse('TooLateToCancel', `the carrier already has the parcel of order ${this.orderId}`);
    }
    if (isTerminal(status)) return refuse('OrderFinished', `order ${this.orderId} is already ${status}`);
    return ACCEPT;
  }

  mayCancel(): boolean {
    return this.decideCancel().accepted;
  }

  /**
   * A report is accepted for this order's task, once, with yields for ordered SKUs of at most the ordered
   * quantity. It may arrive before the order reaches the harvest wait (a reset run gets its reports re-applied
   * first); it is refused once the wait is over (the harvest timed out, or the order is being undone).
   */
  decideHarvestReport(report: HarvestCompleted): Decision {
    if (report.taskId !== this.taskId) {
      return refuse('WrongHarvestTask', `Task ${report.taskId} is not order ${this.orderId}'s task (${this.taskId})`);
    }
    if (this.harvestReport) {
      return refuse('HarvestAlreadyReported', `Harvest task ${this.taskId} was reported already`);
    }
    if (!this.mayStillBeHarvested()) {
      return refuse('HarvestNotAwaited', `Order ${this.orderId} no longer waits for a harvest (${this.view.status})`);
    }
    const errors = report.yields.flatMap((y, i): ReportError[] => {
      const ordered = this.ordered.get(y.sku);
      if (ordered === undefined) return [{ path: `yields.${i}.sku`, message: `${y.sku} is not on this order` }];
      if (!Number.isInteger(y.quantity) || y.quantity < 0) {
        return [{ path: `yields.${i}.quantity`, message: 'must be a whole number of 0 or more' }];
      }
      if (y.quantity > ordered) return [{ path: `yields.${i}.quantity`, message: `more than the ${ordered} ordered` }];
      return [];
    });
    const skus = report.yields.map((y) => y.sku);
    const repeated = skus.filter((sku, i) => skus.indexOf(sku) !== i);
    for (const sku of new Set(repeated)) errors.push({ path: 'yields', message: `${sku} is reported twice` });
    if (errors.length > 0) {
      return refuse('HarvestReportInvalid', errors.map((e) => `${e.path}: ${e.message}`).join('; '), errors);
    }
    return ACCEPT;
  }

  /** A retry is accepted only while the order is parked after both carriers failed. */
  decideRetry(): Decision {
    if (this.view.status !== 'NEEDS_ATTENTION') {
      return refuse('NotParked', `Order ${this.orderId} is ${this.view.status}, not waiting for a booking retry`);
    }
    return ACCEPT;
  }

  mayRetry(): boolean {
    return this.decideRetry().accepted;
  }

  // --- what happened ----------------------------------------------------------------------------

  stepStarted(step: OrderStep): void {
    this.view.step = step;
    // Entering the harvest step opens the crew's task: from then on the order waits for their report.
    if (step === 'harvest' && !this.harvestReport) this.view.status = 'AWAITING_HARVEST';
    this.note(step, 'started');
  }

  stepCompleted(step: OrderStep, detail?: string): void {
    this.note(step, 'completed', detail);
  }

  /** The order's row exists; `status` is what the database says (a reset run may find the order finished). */
  orderRecorded(status: OrderStatus): void {
    this.recordedAs = status;
  }

  harvestScheduled(task: { taskId: string; dueBy: string }): void {
    this.view.harvest = { taskId: task.taskId, dueBy: task.dueBy };
    if (!this.harvestReport) {
      this.note('harvest', 'waiting', `waiting for the crew to report task ${task.taskId} by ${task.dueBy}`);
    }
  }

  /** An accepted report (see decideHarvestReport): the order runs on as soon as the workflow takes it up. */
  harvestReported(report: HarvestCompleted): void {
    this.harvestReport = report;
    if (this.view.status === 'AWAITING_HARVEST') this.view.status = 'RUNNING';
    this.note('harvest', 'info', `reported by ${report.reportedBy}`);
  }

  harvestRecorded(yields: HarvestYield[]): void {
    if (this.view.harvest) this.view.harvest.yields = yields;
  }

  charged(payment: { chargeId: string; amountCents: number; currency: string }): void {
    this.view.payment = payment;
    this.stepCompleted('charge', `charged ${payment.amountCents} ${payment.currency}`);
  }

  carrierFailed(carrier: CarrierName, round: number, detail: string): void {
    this.view.carrierAttempts.push({ carrier, round, outcome: 'failed', detail });
    this.note('book-carrier', 'failed', `${carrier} carrier: ${detail}`);
  }

  carrierBooked(carrier: CarrierName, round: number): void {
    this.view.carrierAttempts.push({ carrier, round, outcome: 'booked' });
  }

  /** Both carriers failed in this round: the order waits for an operator. */
  parked(): void {
    this.view.status = 'NEEDS_ATTENTION';
    this.view.reason = `Both carriers failed to book a label; waiting up to ${PARKED_TIMEOUT} for an operator to retry or cancel`;
    this.retryRequest = undefined;
    this.note('book-carrier', 'waiting', this.view.reason);
  }

  /** An accepted retry (see decideRetry), until the workflow takes it up with {@link bookingResumed}. */
  retryRequested(request: RetryCarrierBooking): void {
    this.retryRequest = request;
  }

  bookingResumed(): void {
    this.view.status = 'RUNNING';
    this.view.reason = undefined;
    this.note('book-carrier', 'info', `booking retried by ${this.retryRequest?.requestedBy ?? 'an operator'}`);
  }

  /** The parcel is being handed to the carrier: cancels are refused from this moment on. */
  handingOver(shipment: ShipmentView): void {
    this.handedOver = true;
    this.view.shipment = shipment;
  }

  pickedUp(): void {
    if (!this.view.shipment) return;
    this.view.shipment = { ...this.view.shipment, pickedUp: true };
    this.stepCompleted(
      'book-carrier',
      `${this.view.shipment.carrier} carrier, tracking ${this.view.shipment.trackingNumber}`,
    );
  }

  cancelAccepted(request: CancelOrder): void {
    if (this.cancelledOnRequest) return;
    this.view.cancelRequest = { ...request, at: this.now(), honoured: true };
    this.note('cancel', 'info', `cancel requested by ${request.requestedBy}: ${request.reason}`);
  }

  /** A cancel sent as a signal (or a Temporal cancellation request) that {@link decideCancel} refused. */
  cancelRefused(request: CancelOrder, why: string): void {
    this.view.cancelRequest ??= { ...request, at: this.now(), honoured: false };
    this.note('cancel', 'info', `cancel from ${request.requestedBy} refused: ${why}`);
  }

  /** A message sent as a signal that a decision refused: kept in the timeline, nothing else changes. */
  signalRefused(step: TimelineEntry['step'], why: string): void {
    this.note(step, 'info', `ignored: ${why}`);
  }

  /** The order failed or was cancelled: its completed steps are being undone. */
  compensating(reason: string): void {
    this.note(this.view.step, 'failed', reason);
    this.view.status = 'COMPENSATING';
    this.view.reason = reason;
  }

  compensated(outcome: CompensationOutcome): void {
    this.view.compensations.push(outcome);
    const detail = outcome.error ? `${outcome.name}: ${outcome.error}` : outcome.name;
    this.note('compensation', outcome.state, detail);
  }

  notificationFailed(detail: string, kind: 'confirmation' | 'cancellation'): void {
    this.note('notify', 'failed', kind === 'confirmation' ? detail : `cancellation notice: ${detail}`);
    if (kind === 'confirmation') {
      this.view.reason = `Shipped, but the confirmation could not be sent to the customer: ${detail}`;
    }
  }

  completed(): void {
    this.view.status = 'COMPLETED';
    this.view.step = 'done';
  }

  /** Compensation is over: CANCELLED when every compensation completed, FAILED when one gave up. */
  closed(): void {
    const failed = this.failedCompensations();
    this.view.status = failed.length > 0 ? 'FAILED' : 'CANCELLED';
    if (failed.length > 0) {
      this.view.reason = `${this.view.reason}; compensation failed: ${failed.map((c) => c.name).join(', ')} (needs an operator)`;
    }
  }

  failedCompensations(): CompensationOutcome[] {
    return this.view.compensations.filter((c) => c.state === 'failed');
  }

  private mayStillBeHarvested(): boolean {
    const { status, step } = this.view;
    if (isTerminal(status) || status === 'COMPENSATING') return false;
    return step === 'received' || step === 'reserve-inventory' || step === 'harvest';
  }

  private note(step: TimelineEntry['step'], state: TimelineEntry['state'], detail?: string): void {
    this.view.timeline.push({ step, state, at: this.now(), ...(detail ? { detail } : {}) });
  }
}

function isTerminal(status: OrderStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

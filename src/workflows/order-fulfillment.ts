import {
  allHandlersFinished,
  CancellationScope,
  CancelledFailure,
  condition,
  isCancellation,
  log,
  setHandler,
} from '@temporalio/workflow';
import {
  carriers,
  compensations,
  database,
  DATABASE_PRESET,
  notifications,
  payments,
  pickups,
  PRESETS,
  summarised,
} from './activity-proxies';
import {
  cancelOrderSignal,
  cancelOrderUpdate,
  harvestCompletedSignal,
  harvestWindowMs,
  PARKED_TIMEOUT,
  placeOrderUpdate,
  reportHarvestUpdate,
  retryCarrierBookingSignal,
  retryCarrierBookingUpdate,
  statusQuery,
  type CancelAccepted,
  type CancelOrder,
  type CarrierName,
  type HarvestAccepted,
  type HarvestCompleted,
  type NotificationKind,
  type OrderInput,
  type OrderResult,
  type ReservedLine,
  type RetryAccepted,
  type RetryCarrierBooking,
  type ShipmentView,
} from './definitions';
import { describeFailure, failureTypeOf } from './describe';
import { businessFailure, isBusinessFailureType } from './failures';
import { OrderState, type Decision } from './order-state';
import { Acceptance, refusalOf } from './acceptance';
import { Saga } from './saga';
import { OrderVisibility } from './visibility';

type Payment = { chargeId: string; amountCents: number; currency: string };
const CARRIERS: readonly CarrierName[] = ['primary', 'backup'];

/** The compensations, by the name the status view shows: the activity that undoes a step, and its summary. */
const UNDO = {
  'release-reservation': ['releaseReservation', 'Undo: release reserved stock'],
  'cancel-harvest': ['cancelHarvest', 'Undo: cancel the harvest task or return produce to stock'],
  unpack: ['unpackOrder', 'Undo: unpack the parcel'],
  refund: ['refundOrder', 'Undo: refund the charge'],
  'void-label': ['voidLabel', 'Undo: void the shipping label'],
} as const;
type Compensation = keyof typeof UNDO;

/**
 * One order, end to end: reserve-inventory -> harvest -> pack -> charge -> book-carrier -> notify.
 *
 * `POST /orders` starts the run with the `placeOrder` Update (update-with-start) and gets its answer as soon as the
 * stock is reserved and the crew has a task, or at once when stock is short. Each step registers its compensation
 * before its side effect; on a failure, an accepted `cancelOrder` or a Temporal cancellation request the registered
 * compensations run in reverse. Once the carrier has the parcel, cancels are refused. When both carriers fail the
 * order parks in NEEDS_ATTENTION until an operator retries or cancels, or the parking time runs out.
 */
export async function orderFulfillment(input: OrderInput): Promise<OrderResult> {
  return new OrderRun(input).execute();
}

class OrderRun {
  private readonly orderId: string;
  private readonly order: OrderState;
  private readonly visibility: OrderVisibility;
  private readonly saga = new Saga();
  private readonly acceptance = new Acceptance();
  /** The six steps run in this scope: an accepted cancel (or a Temporal cancellation request) cancels it. */
  private readonly steps = new CancellationScope();
  private readonly root = CancellationScope.current();

  constructor(private readonly input: OrderInput) {
    this.orderId = input.orderId;
    this.order = new OrderState(input);
    this.visibility = new OrderVisibility(this.order, input.customerId);
    this.handleMessages();
  }

  async execute(): Promise<OrderResult> {
    const outcome = await this.steps
      .run(() => this.fulfil())
      .then(
        (delivery) => ({ delivery }),
        (failure: unknown) => ({ failure }),
      );
    try {
      if ('delivery' in outcome) return await this.deliver(outcome.delivery.payment, outcome.delivery.shipment);
      this.acceptance.refuse(outcome.failure);
      return await this.undo(outcome.failure);
    } finally {
      // A message still being handled (a cancel waiting for the order's record) gets its answer before the run ends,
      // also when the run itself was asked to cancel.
      await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
    }
  }

  /** The six steps, top to bottom. Each compensation is registered before the effect it undoes. */
  private async fulfil(): Promise<{ payment: Payment; shipment: ShipmentView }> {
    await this.record();
    this.saga.add('release-reservation', () => this.compensate('release-reservation'));
    const reserved = await this.reserve();
    this.saga.add('cancel-harvest', () => this.compensate('cancel-harvest'));
    const windowMs = await this.scheduleHarvest(reserved);
    await this.awaitHarvest(reserved, windowMs);
    this.saga.add('unpack', () => this.compensate('unpack'));
    await this.pack();
    this.saga.add('refund', () => this.compensate('refund'));
    const payment = await this.charge();
    this.saga.add('void-label', () => this.compensate('void-label'));
    const shipment = await this.bookCarrier();
    await this.handOver(shipment);
    return { payment, shipment };
  }

  private async record(): Promise<void> {
    const { status } = await database.recordOrder.executeWithOptions(
      summarised(DATABASE_PRESET, 'Record the order in PostgreSQL'),
      [{ order: this.input, progress: this.order.progress() }],
    );
    this.order.orderRecorded(status);
    // A reset run of an order that was undone: every compensation runs again (each idempotent: it finds nothing more
    // to undo, or finishes what a failed one left), and the order ends as it ended. It does not reserve or wait again.
    if (status === 'CANCELLED' || status === 'FAILED') {
      for (const name of Object.keys(UNDO) as Compensation[]) this.saga.add(name, () => this.compensate(name));
      throw businessFailure('OrderClosed', `Order ${this.orderId} is already ${status}; its effects are not repeated`);
    }
  }

  private async reserve(): Promise<ReservedLine[]> {
    this.order.stepStarted('reserve-inventory');
    const summary = `Reserve ${this.input.lines.map((l) => `${l.quantity} ${l.sku}`).join(', ')}`;
    const reserved = await database.reserveInventory.executeWithOptions(summarised(DATABASE_PRESET, summary), [
      { orderId: this.orderId, progress: this.order.progress() },
    ]);
    this.order.stepCompleted('reserve-inventory');
    return reserved;
  }

  /** Open the crew's task. With it the order is accepted: the `placeOrder` Update answers here. */
  private async scheduleHarvest(reserved: ReservedLine[]): Promise<number> {
    this.order.stepStarted('harvest');
    const windowMs = harvestWindowMs(reserved);
    const task = await database.createHarvestTask.executeWithOptions(
      summarised(DATABASE_PRESET, 'Open a harvest task for the field crew'),
      [
        {
          orderId: this.orderId,
          dueBy: new Date(Date.now() + windowMs).toISOString(),
          progress: this.order.progress(),
        },
      ],
    );
    this.order.harvestScheduled(task);
    const lines = reserved.map(({ sku, quantity, unitPriceCents }) => ({ sku, quantity, unitPriceCents }));
    this.acceptance.accept({ orderId: this.orderId, lines, harvestTask: task });
    return windowMs;
  }

  private async awaitHarvest(reserved: ReservedLine[], windowMs: number): Promise<void> {
    this.visibility.beforeWaiting();
    if (!(await condition(() => this.order.harvestReport !== undefined, windowMs))) {
      const dueBy = this.order.view.harvest?.dueBy;
      throw businessFailure('HarvestTimedOut', `The crew did not report harvest task ${this.order.taskId} by ${dueBy}`);
    }
    const harvested = await database.recordHarvest.executeWithOptions(
      summarised(DATABASE_PRESET, "Record the crew's actual yields"),
      [{ orderId: this.orderId, yields: this.order.harvestReport?.yields ?? [], progress: this.order.progress() }],
    );
    this.order.harvestRecorded(harvested);
    if (harvested.every((line) => line.quantity === 0)) {
      throw businessFailure('NothingHarvested', 'The crew harvested nothing for this order');
    }
    const short = reserved
      .filter((line) => (harvested.find((h) => h.sku === line.sku)?.quantity ?? 0) < line.quantity)
      .map((line) => line.sku);
    if (short.length > 0 && !this.input.acceptPartial) {
      throw businessFailure(
        'PartialYieldRefused',
        `Harvest came up short for ${short.join(', ')} and the order does not accept partial fulfilment`,
      );
    }
    this.order.stepCompleted(
      'harvest',
      short.length > 0 ? `partial yield accepted for ${short.join(', ')}` : undefined,
    );
  }

  private async pack(): Promise<void> {
    this.order.stepStarted('pack');
    await database.packOrder.executeWithOptions(summarised(DATABASE_PRESET, 'Pack what was harvested'), [
      { orderId: this.orderId, progress: this.order.progress() },
    ]);
    this.order.stepCompleted('pack');
  }

  private async charge(): Promise<Payment> {
    this.order.stepStarted('charge');
    this.visibility.beforeWaiting();
    const payment = await payments.chargeOrder.executeWithOptions(
      summarised(PRESETS.payment, 'Charge the customer for the harvested quantities'),
      [{ orderId: this.orderId, progress: this.order.progress() }],
    );
    this.order.charged(payment);
    return payment;
  }

  /** The primary carrier, then the backup; when both fail, park until an operator retries (or cancels). */
  private async bookCarrier(): Promise<ShipmentView> {
    this.order.stepStarted('book-carrier');
    for (let round = 0; ; round++) {
      const shipment = await this.bookRound(round);
      if (shipment) return shipment;
      await this.park(round);
    }
  }

  private async bookRound(round: number): Promise<ShipmentView | undefined> {
    for (const carrier of CARRIERS) {
      try {
        this.visibility.beforeWaiting();
        const shipment = await carriers.bookCarrier.executeWithOptions(
          summarised(PRESETS.carrier, `Book a label with the ${carrier} carrier (round ${round + 1})`),
          [{ orderId: this.orderId, carrier, round, progress: this.order.progress() }],
        );
        this.order.carrierBooked(carrier, round);
        return shipment;
      } catch (error) {
        if (isCancellation(error)) throw error;
        this.order.carrierFailed(carrier, round, describeFailure(error));
      }
    }
    return undefined;
  }

  private async park(round: number): Promise<void> {
    this.order.parked();
    const attempts = this.order.view.carrierAttempts.filter((a) => a.round === round);
    await this.mark(`parked:${round}`, 'OrderParked', { round, attempts });
    this.visibility.beforeWaiting();
    if (!(await condition(() => this.order.retryRequest !== undefined, PARKED_TIMEOUT))) {
      throw businessFailure(
        'ParkedTimedOut',
        `No operator decision within ${PARKED_TIMEOUT} after both carriers failed`,
      );
    }
    const { requestedBy, note } = this.order.retryRequest ?? { requestedBy: 'operator' };
    this.order.bookingResumed();
    await this.mark(`retry:${round}`, 'CarrierRetryRequested', { requestedBy, note: note ?? null });
  }

  /** From the moment the parcel is handed over, cancels are refused: the pickup is never interrupted. */
  private async handOver(shipment: ShipmentView): Promise<void> {
    // A cancel accepted while the label was being booked wins: the booking activity does not heartbeat, so it
    // completed anyway, but the carrier does not have the parcel yet; the label is voided with everything else.
    if (this.steps.consideredCancelled) throw new CancelledFailure('Cancelled while the carrier was being booked');
    this.order.handingOver(shipment);
    this.visibility.beforeWaiting();
    await CancellationScope.nonCancellable(() =>
      pickups.confirmPickup.executeWithOptions(summarised(PRESETS.pickup, 'Hand the parcel to the carrier'), [
        { orderId: this.orderId },
      ]),
    );
    this.order.pickedUp();
  }

  /** The parcel is on its way: tell the customer, record the outcome. Nothing here can undo the order. */
  private deliver(payment: Payment, shipment: ShipmentView): Promise<OrderResult> {
    return CancellationScope.nonCancellable(async () => {
      this.order.stepStarted('notify');
      if (await this.notify('confirmation')) this.order.stepCompleted('notify');
      else await this.mark('notify-failed', 'NotificationFailed', { error: this.order.view.reason ?? null });
      if (this.root.consideredCancelled && !this.order.view.cancelRequest) {
        const request = { reason: 'Temporal workflow cancellation request', requestedBy: 'temporal' };
        this.order.cancelRefused(request, 'the carrier already has the parcel');
      }
      const refusedCancel = this.order.view.cancelRequest;
      if (refusedCancel && !refusedCancel.honoured)
        await this.mark('cancel-refused', 'CancelRefused', { ...refusedCancel });
      this.order.completed();
      this.visibility.beforeWaiting();
      const { carrier, trackingNumber } = shipment;
      await this.mark('completed', 'OrderCompleted', { chargedCents: payment.amountCents, carrier, trackingNumber });
      return { orderId: this.orderId, status: 'COMPLETED', chargedCents: payment.amountCents, carrier, trackingNumber };
    });
  }

  /** Undo every completed step, newest first, tell the customer, and end the run the way the order ended. */
  private async undo(failure: unknown): Promise<OrderResult> {
    const reason = this.reasonFor(failure);
    log.warn('order aborted, compensating', { orderId: this.orderId, reason, step: this.order.view.step });
    const failedStep = this.order.view.step;
    this.order.compensating(reason);
    this.visibility.beforeWaiting();
    await CancellationScope.nonCancellable(async () => {
      await this.mark('compensating', 'CompensationStarted', { reason, failedStep });
      await this.saga.compensate((outcome) => this.order.compensated(outcome));
      // A customer refused at acceptance (out of stock) was told so in the answer to their request.
      if (!this.refusedAtAcceptance(failure)) await this.notify('cancellation', reason);
      this.order.closed();
      this.visibility.beforeWaiting();
      const failed = this.order.failedCompensations().length > 0;
      await this.mark('closed', failed ? 'CompensationFailed' : 'OrderCancelled', {
        reason,
        compensations: this.order.view.compensations,
        ...(this.refusedAtAcceptance(failure) ? { refusal: refusalOf(failure) } : {}),
      });
    });
    return this.endAfterUndo(failure, reason);
  }

  private endAfterUndo(failure: unknown, reason: string): OrderResult {
    const failedCompensations = this.order.failedCompensations();
    if (failedCompensations.length > 0) {
      // Not cancelled cleanly: the run fails, so it stands out in the Web UI, naming what an operator must finish.
      throw businessFailure('CompensationFailed', `Order ${this.orderId}: ${this.order.view.reason}`, {
        details: { reason, failedCompensations },
        cause: failure instanceof Error ? failure : undefined,
      });
    }
    if (this.order.cancelledOnRequest) return { orderId: this.orderId, status: 'CANCELLED', reason };
    if (isCancellation(failure)) throw failure;
    const type = failureTypeOf(failure);
    throw businessFailure(
      isBusinessFailureType(type) ? type : 'StepFailed',
      `Order ${this.orderId} cancelled: ${reason}`,
      {
        cause: failure instanceof Error ? failure : undefined,
      },
    );
  }

  /** The order was refused before it was accepted (out of stock, unknown product): not cancelled by anyone. */
  private refusedAtAcceptance(failure: unknown): boolean {
    return !this.acceptance.accepted && !this.order.cancelledOnRequest && !isCancellation(failure);
  }

  private reasonFor(failure: unknown): string {
    const request = this.order.view.cancelRequest;
    if (request?.honoured) return `Cancelled by ${request.requestedBy}: ${request.reason}`;
    if (isCancellation(failure)) return 'Cancelled through Temporal (workflow cancellation request)';
    return describeFailure(failure);
  }

  /** Send the confirmation or the cancellation notice; a failure is recorded in the order, never thrown. */
  private async notify(kind: NotificationKind, reason?: string): Promise<boolean> {
    const summary = kind === 'confirmation' ? 'E-mail the confirmation and receipt' : 'E-mail the cancellation notice';
    try {
      this.visibility.beforeWaiting();
      await notifications.notifyCustomer.executeWithOptions(summarised(PRESETS.notify, summary), [
        { orderId: this.orderId, kind, ...(reason ? { reason } : {}) },
      ]);
      return true;
    } catch (error) {
      this.order.notificationFailed(describeFailure(error), kind);
      return false;
    }
  }

  /** Record an event in the order's audit trail, with the status the order has now. */
  private mark(key: string, type: string, data: Record<string, unknown>): Promise<void> {
    return database.markOrder({ orderId: this.orderId, progress: this.order.progress(), event: { key, type, data } });
  }

  private compensate(name: Compensation): Promise<unknown> {
    const [activity, summary] = UNDO[name];
    return compensations[activity].executeWithOptions(summarised(PRESETS.compensation, summary), [
      { orderId: this.orderId },
    ]);
  }

  // --- messages: Updates answer the caller, signals (the CLI recipes) take the same decisions ------------------

  private handleMessages(): void {
    setHandler(statusQuery, () => this.order.view);
    setHandler(placeOrderUpdate, () => this.acceptance.answer(), {
      validator: ({ requestHash }) => {
        if (requestHash !== this.input.requestHash) {
          throw businessFailure('IdempotencyKeyReused', `Order ${this.orderId} was placed with another request body`);
        }
      },
    });
    setHandler(cancelOrderUpdate, (request) => this.cancel(request), {
      validator: (_request: CancelOrder) => throwIfRefused(this.order.decideCancel()),
    });
    // A refused cancel signal is recorded by cancel() itself; there is no caller to answer.
    setHandler(cancelOrderSignal, (request) =>
      this.cancel(request).then(
        () => undefined,
        () => undefined,
      ),
    );
    setHandler(reportHarvestUpdate, (report) => this.reportHarvest(report), {
      validator: (report: HarvestCompleted) => throwIfRefused(this.order.decideHarvestReport(report)),
    });
    setHandler(harvestCompletedSignal, (report: HarvestCompleted) => {
      const decision = this.order.decideHarvestReport(report);
      if (decision.accepted) this.reportHarvest(report);
      else this.order.signalRefused('harvest', decision.message);
    });
    setHandler(retryCarrierBookingUpdate, (request) => this.retry(request), {
      validator: (_request: RetryCarrierBooking) => throwIfRefused(this.order.decideRetry()),
    });
    setHandler(retryCarrierBookingSignal, (request) => {
      const decision = this.order.decideRetry();
      if (decision.accepted) this.retry(request);
      else this.order.signalRefused('book-carrier', `retry from ${request.requestedBy}: ${decision.message}`);
    });
  }

  /**
   * A cancel is decided once the order's row has been read: a reset run gets every message of the run it replaces
   * re-applied at its very start, and a cancel refused after the pickup must not cancel an order fulfilled long ago.
   */
  private async cancel(request: CancelOrder): Promise<CancelAccepted> {
    if (!this.order.recorded) await condition(() => this.order.recorded || this.acceptance.decided);
    const decision = this.order.decideCancel();
    if (!decision.accepted) this.order.cancelRefused(request, decision.message);
    throwIfRefused(decision);
    if (this.order.cancelledOnRequest || this.order.view.status === 'COMPENSATING') {
      return { orderId: this.orderId, alreadyCancelling: true };
    }
    this.order.cancelAccepted(request);
    this.steps.cancel();
    return { orderId: this.orderId, alreadyCancelling: false };
  }

  private reportHarvest(report: HarvestCompleted): HarvestAccepted {
    throwIfRefused(this.order.decideHarvestReport(report));
    this.order.harvestReported(report);
    return { orderId: this.orderId, taskId: report.taskId, yields: report.yields };
  }

  private retry(request: RetryCarrierBooking): RetryAccepted {
    throwIfRefused(this.order.decideRetry());
    this.order.retryRequested(request);
    return { orderId: this.orderId };
  }
}

function throwIfRefused(decision: Decision): void {
  if (decision.accepted) return;
  throw businessFailure(
    decision.refusal,
    decision.message,
    decision.errors ? { details: { errors: decision.errors } } : {},
  );
}

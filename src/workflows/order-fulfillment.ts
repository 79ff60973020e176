import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  cancelOrderSignal,
  harvestCompletedSignal,
  harvestTaskId,
  harvestWindowMs,
  PARKED_TIMEOUT,
  retryCarrierBookingSignal,
  statusQuery,
  type CancelOrder,
  type CarrierName,
  type HarvestCompleted,
  type OrderInput,
  type OrderResult,
  type OrderStatusView,
  type OrderStep,
  type RetryCarrierBooking,
  type ShipmentView,
  type TimelineEntry,
} from './definitions';
import { CUSTOMER_ID, ORDER_STATUS, ORDER_STEP } from './search-attributes';

/** Business failures: retrying cannot help, so they go straight to compensation. */
const BUSINESS_FAILURES = [
  'OutOfStock',
  'UnknownProduct',
  'UnknownCustomer',
  'OrderNotRecorded',
  'PaymentDeclined',
  'NothingToCharge',
  'IdempotencyKeyReused',
  'CarrierRefused',
  'LabelAlreadyPickedUp',
  'LabelVoided',
  'RefundRejected',
  'ProviderRejected',
  'NotFound',
  'ProviderProtocolError',
  'NothingHarvested',
  'PartialYieldRefused',
];

/**
 * Named timeout and retry presets. Activities that cause side effects wait for cancellation to
 * complete, so a compensation never races the step it undoes.
 */
export const ACTIVITY_PRESETS = {
  /** Database-only steps: quick, retried on transient database errors. */
  step: {
    startToCloseTimeout: '30 seconds',
    retry: {
      initialInterval: '500 ms',
      backoffCoefficient: 2,
      maximumInterval: '30 seconds',
      maximumAttempts: 10,
      nonRetryableErrorTypes: BUSINESS_FAILURES,
    },
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  },
  /** Gateway errors and timeouts retry with the same idempotency key; declines do not. */
  payment: {
    startToCloseTimeout: '1 minute',
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: 12,
      nonRetryableErrorTypes: BUSINESS_FAILURES,
    },
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  },
  /** Each carrier gets its own small budget, so a dead primary hands over to the backup quickly. */
  carrier: {
    startToCloseTimeout: '30 seconds',
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '10 seconds',
      maximumAttempts: 3,
      nonRetryableErrorTypes: BUSINESS_FAILURES,
    },
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  },
  /** Notifications never fail an order; a few attempts, then the failure is recorded. */
  notify: {
    startToCloseTimeout: '30 seconds',
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '30 seconds',
      maximumAttempts: 5,
      nonRetryableErrorTypes: BUSINESS_FAILURES,
    },
  },
  /** Compensations are retried for a long time; if they still fail, the order is marked FAILED. */
  compensation: {
    startToCloseTimeout: '30 seconds',
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: 20,
      nonRetryableErrorTypes: ['OrderNotRecorded'],
    },
  },
} as const satisfies Record<string, ActivityOptions>;

const steps = proxyActivities<Activities>(ACTIVITY_PRESETS.step);
/**
 * The same database-only steps as local activities: they run inside the workflow task of the worker that runs the
 * workflow, and each leaves one marker in the history instead of a scheduled/started/completed activity plus a
 * workflow task round trip through the server. That is sound for them: they take milliseconds, touch only our own
 * PostgreSQL, are idempotent (keyed by the order), and a retry after a worker crash re-runs them harmlessly. Provider
 * calls (charge, carrier, pickup, notification) and compensations stay regular activities, so their attempts and
 * failures show as pending activities in the Web UI while they retry.
 */
const localSteps = proxyLocalActivities<Activities>(ACTIVITY_PRESETS.step);
const payments = proxyActivities<Activities>(ACTIVITY_PRESETS.payment);
const carriers = proxyActivities<Activities>(ACTIVITY_PRESETS.carrier);
const notifications = proxyActivities<Activities>(ACTIVITY_PRESETS.notify);
const compensations = proxyActivities<Activities>(ACTIVITY_PRESETS.compensation);

/** The innermost message of a failure chain, in words an operator can act on. */
function describe(error: unknown): string {
  let current: unknown = error;
  while (current instanceof ActivityFailure && current.cause) current = current.cause;
  return current instanceof Error ? current.message : String(error);
}

/** The business type of a failure: the ApplicationFailure type at the bottom of the chain. */
function failureType(error: unknown): string {
  let current: unknown = error;
  while (current instanceof ActivityFailure && current.cause) current = current.cause;
  return current instanceof ApplicationFailure && current.type ? current.type : 'StepFailed';
}

/**
 * One order, end to end: reserve-inventory -> harvest -> pack -> charge -> book-carrier -> notify.
 *
 * Each step registers its compensation before its side effect. On a failure, a `cancelOrder`
 * signal or a Temporal cancellation request, the registered compensations run in reverse in a
 * non-cancellable scope. Once the carrier has the parcel, cancels are refused and recorded.
 * When both carriers fail, the order parks in NEEDS_ATTENTION until an operator signals
 * `retryCarrierBooking` or `cancelOrder`, or the parking time runs out.
 */
export async function orderFulfillment(input: OrderInput): Promise<OrderResult> {
  const { orderId } = input;
  const view: OrderStatusView = {
    orderId,
    status: 'RUNNING',
    step: 'received',
    timeline: [],
    compensations: [],
    carrierAttempts: [],
  };
  // Lean history: database-only steps run as local activities, and the search attributes are written when the order
  // comes to rest (waits for a provider call, a signal, or ends) instead of on every step: about 45 history events per
  // order instead of 80. Runs started before this keep the old command sequence. A lean run has every earlier change
  // too, so it asks for no other patch: each patched() costs two history events (a marker and TemporalChangeVersion).
  const lean = patched('lean-history');
  // Search attributes let operators filter orders by status and step in the Web UI and the CLI.
  // Histories recorded before they existed replay without them.
  const searchable = lean || patched('order-search-attributes');
  const dbSteps = lean ? localSteps : steps;
  const startedWith = workflowInfo().typedSearchAttributes;
  let published = lean ? `${startedWith.get(ORDER_STATUS) ?? ''}/${startedWith.get(ORDER_STEP) ?? ''}` : '';
  /** Write OrderStatus/OrderStep if they changed since they were last written. */
  const flush = () => {
    if (!searchable || published === `${view.status}/${view.step}`) return;
    published = `${view.status}/${view.step}`;
    upsertSearchAttributes([
      { key: ORDER_STATUS, value: view.status },
      { key: ORDER_STEP, value: view.step },
    ]);
  };
  /**
   * Keep the run's "current details" (shown in the Web UI) up to date, and OrderStatus/OrderStep: at once on the
   * old path; on the lean path at the next `rest()`.
   */
  const publish = () => {
    setCurrentDetails(`**${view.status}** at step \`${view.step}\`${view.reason ? `: ${view.reason}` : ''}`);
    if (!lean) flush();
  };
  /** The order is about to wait (for a provider call, a signal, the end of the run): make its state searchable. */
  const rest = () => {
    if (lean) flush();
  };
  // The API sets all three when it starts the run; a run started another way (the CLI) gets what it lacks here.
  if (searchable && !(lean && startedWith.get(CUSTOMER_ID) !== undefined)) {
    upsertSearchAttributes([{ key: CUSTOMER_ID, value: input.customerId }]);
  }
  const note = (step: TimelineEntry['step'], state: TimelineEntry['state'], detail?: string) => {
    view.timeline.push({ step, state, at: new Date().toISOString(), ...(detail ? { detail } : {}) });
    publish();
  };
  const enter = (step: OrderStep) => {
    view.step = step;
    note(step, 'started');
  };

  let harvestReport: HarvestCompleted | undefined;
  let retryRequest: RetryCarrierBooking | undefined;
  let pickupStarted = false;
  const undo: { name: string; run: () => Promise<unknown> }[] = [];
  const root = CancellationScope.current();
  const scope = new CancellationScope();

  setHandler(statusQuery, () => view);
  setHandler(harvestCompletedSignal, (report) => {
    if (report.taskId !== harvestTaskId(orderId)) {
      note('harvest', 'info', `ignored a report for task ${report.taskId}, which is not this order's`);
      return;
    }
    if (harvestReport) return; // a crew reporting twice changes nothing
    harvestReport = report;
  });
  setHandler(retryCarrierBookingSignal, (request) => {
    if (view.status !== 'NEEDS_ATTENTION') {
      note('book-carrier', 'info', `retry from ${request.requestedBy} ignored: the order is not waiting for one`);
      return;
    }
    retryRequest = request;
  });
  // A cancel is decided only once the order's record has been read. A reset run gets every signal of the run it
  // replaces re-applied at its very start, before any step: a cancel that run refused after the pickup must not
  // cancel (and notify the customer about) an order that was fulfilled long ago. Histories recorded before this
  // decided a cancel as soon as it arrived.
  const cancelAfterRecord = lean || patched('decide-cancel-after-record');
  let recorded = false;
  let deferredCancel: (CancelOrder & { at: string }) | undefined;
  const decideCancel = (request: CancelOrder, at: string) => {
    if (view.cancelRequest?.honoured) return; // cancelling twice is harmless
    if (pickupStarted || view.status === 'COMPLETED' || view.status === 'CANCELLED' || view.status === 'FAILED') {
      view.cancelRequest = { ...request, at, honoured: false };
      note('cancel', 'info', `cancel from ${request.requestedBy} refused: the carrier already has the parcel`);
      return;
    }
    view.cancelRequest = { ...request, at, honoured: true };
    note('cancel', 'info', `cancel requested by ${request.requestedBy}: ${request.reason}`);
    scope.cancel();
  };
  setHandler(cancelOrderSignal, (request) => {
    const at = new Date().toISOString();
    if (cancelAfterRecord && !recorded) {
      deferredCancel ??= { ...request, at };
      return;
    }
    decideCancel(request, at);
  });

  async function bookWithFallback(): Promise<ShipmentView> {
    for (let round = 0; ; round++) {
      for (const carrier of ['primary', 'backup'] as CarrierName[]) {
        try {
          rest();
          const shipment = await carriers.bookCarrier.executeWithOptions(
            { ...ACTIVITY_PRESETS.carrier, summary: `Book a label with the ${carrier} carrier (round ${round + 1})` },
            [{ orderId, carrier, round }],
          );
          view.carrierAttempts.push({ carrier, round, outcome: 'booked' });
          return shipment;
        } catch (error) {
          if (isCancellation(error)) throw error;
          view.carrierAttempts.push({ carrier, round, outcome: 'failed', detail: describe(error) });
          note('book-carrier', 'failed', `${carrier} carrier: ${describe(error)}`);
        }
      }
      view.status = 'NEEDS_ATTENTION';
      view.reason = `Both carriers failed to book a label; waiting up to ${PARKED_TIMEOUT} for an operator to retry or cancel`;
      note('book-carrier', 'waiting', view.reason);
      retryRequest = undefined;
      await dbSteps.markOrder({
        orderId,
        status: 'NEEDS_ATTENTION',
        step: 'book-carrier',
        reason: view.reason,
        eventKey: `parked:${round}`,
        eventType: 'OrderParked',
        data: { round, attempts: view.carrierAttempts.filter((a) => a.round === round) },
      });
      rest();
      const decided = await condition(() => retryRequest !== undefined, PARKED_TIMEOUT);
      if (!decided) {
        throw ApplicationFailure.create({
          type: 'ParkedTimedOut',
          message: `No operator decision within ${PARKED_TIMEOUT} after both carriers failed`,
          nonRetryable: true,
        });
      }
      // The signal handler sets retryRequest while condition() waits; TypeScript cannot see that.
      const request = retryRequest as RetryCarrierBooking | undefined;
      const by = request?.requestedBy ?? 'operator';
      view.status = 'RUNNING';
      view.reason = undefined;
      note('book-carrier', 'info', `booking retried by ${by}`);
      await dbSteps.markOrder({
        orderId,
        status: 'RUNNING',
        reason: null,
        eventKey: `retry:${round}`,
        eventType: 'CarrierRetryRequested',
        data: { requestedBy: by, note: request?.note ?? null },
      });
    }
  }

  async function fulfil(): Promise<{ chargedCents: number; shipment: ShipmentView }> {
    const record = await dbSteps.recordOrder.executeWithOptions(
      { ...ACTIVITY_PRESETS.step, summary: 'Record the order in PostgreSQL' },
      [input],
    );
    if (cancelAfterRecord) {
      recorded = true;
      // A reset run of a fulfilled order: its parcel left long ago, so cancels are refused as after a pickup.
      if (record.status === 'COMPLETED') pickupStarted = true;
      if (deferredCancel) {
        decideCancel(deferredCancel, deferredCancel.at);
        deferredCancel = undefined;
        if (scope.consideredCancelled) throw new CancelledFailure('Cancelled before any step ran');
      }
    }

    enter('reserve-inventory');
    undo.push({
      name: 'release-reservation',
      run: () =>
        compensations.releaseReservation.executeWithOptions(
          { ...ACTIVITY_PRESETS.compensation, summary: 'Undo: release reserved stock' },
          [{ orderId }],
        ),
    });
    const reserved = await dbSteps.reserveInventory.executeWithOptions(
      { ...ACTIVITY_PRESETS.step, summary: `Reserve ${input.lines.map((l) => `${l.quantity} ${l.sku}`).join(', ')}` },
      [{ orderId }],
    );
    note('reserve-inventory', 'completed');

    enter('harvest');
    undo.push({
      name: 'cancel-harvest',
      run: () =>
        compensations.cancelHarvest.executeWithOptions(
          { ...ACTIVITY_PRESETS.compensation, summary: 'Undo: cancel the harvest task or return produce to stock' },
          [{ orderId }],
        ),
    });
    const windowMs = harvestWindowMs(reserved);
    const task = await dbSteps.createHarvestTask.executeWithOptions(
      { ...ACTIVITY_PRESETS.step, summary: 'Open a harvest task for the field crew' },
      [{ orderId, dueBy: new Date(Date.now() + windowMs).toISOString() }],
    );
    view.status = 'AWAITING_HARVEST';
    view.harvest = { taskId: task.taskId, dueBy: task.dueBy };
    note('harvest', 'waiting', `waiting for the crew to report task ${task.taskId} by ${task.dueBy}`);
    rest();
    if (!(await condition(() => harvestReport !== undefined, windowMs))) {
      throw ApplicationFailure.create({
        type: 'HarvestTimedOut',
        message: `The crew did not report harvest task ${task.taskId} by ${task.dueBy}`,
        nonRetryable: true,
      });
    }
    view.status = 'RUNNING';
    const harvested = await dbSteps.recordHarvest.executeWithOptions(
      { ...ACTIVITY_PRESETS.step, summary: "Record the crew's actual yields" },
      [{ orderId, yields: harvestReport?.yields ?? [] }],
    );
    view.harvest.yields = harvested;
    const short = reserved.filter((line) => (harvested.find((h) => h.sku === line.sku)?.quantity ?? 0) < line.quantity);
    if (harvested.every((line) => line.quantity === 0)) {
      throw ApplicationFailure.create({
        type: 'NothingHarvested',
        message: 'The crew harvested nothing for this order',
        nonRetryable: true,
      });
    }
    if (short.length > 0 && !input.acceptPartial) {
      throw ApplicationFailure.create({
        type: 'PartialYieldRefused',
        message: `Harvest came up short for ${short.map((l) => l.sku).join(', ')} and the order does not accept partial fulfilment`,
        nonRetryable: true,
      });
    }
    note(
      'harvest',
      'completed',
      short.length > 0 ? `partial yield accepted for ${short.map((l) => l.sku).join(', ')}` : undefined,
    );

    enter('pack');
    undo.push({
      name: 'unpack',
      run: () =>
        compensations.unpackOrder.executeWithOptions(
          { ...ACTIVITY_PRESETS.compensation, summary: 'Undo: unpack the parcel' },
          [{ orderId }],
        ),
    });
    await dbSteps.packOrder.executeWithOptions({ ...ACTIVITY_PRESETS.step, summary: 'Pack what was harvested' }, [
      { orderId },
    ]);
    note('pack', 'completed');

    enter('charge');
    undo.push({
      name: 'refund',
      run: () =>
        compensations.refundOrder.executeWithOptions(
          { ...ACTIVITY_PRESETS.compensation, summary: 'Undo: refund the charge' },
          [{ orderId }],
        ),
    });
    rest();
    const charge = await payments.chargeOrder.executeWithOptions(
      { ...ACTIVITY_PRESETS.payment, summary: 'Charge the customer for the harvested quantities' },
      [{ orderId }],
    );
    view.payment = charge;
    note('charge', 'completed', `charged ${charge.amountCents} ${charge.currency}`);

    enter('book-carrier');
    undo.push({
      name: 'void-label',
      run: () =>
        compensations.voidLabel.executeWithOptions(
          { ...ACTIVITY_PRESETS.compensation, summary: 'Undo: void the shipping label' },
          [{ orderId }],
        ),
    });
    const shipment = await bookWithFallback();
    // A cancel that arrived while the label was being booked is honoured: the booking activity does not heartbeat,
    // so it completes anyway, but the carrier does not have the parcel yet. Without this check the order would go on
    // to the pickup and ship although the cancel was accepted; instead the label is voided with everything else.
    if (scope.consideredCancelled && (lean || patched('honour-cancel-during-carrier-booking'))) {
      throw new CancelledFailure('Cancelled while the carrier was being booked, before pickup');
    }
    view.shipment = shipment;
    // From the moment we hand the parcel over, cancels are refused: the pickup is never interrupted.
    pickupStarted = true;
    rest();
    await CancellationScope.nonCancellable(() =>
      steps.confirmPickup.executeWithOptions({ ...ACTIVITY_PRESETS.step, summary: 'Hand the parcel to the carrier' }, [
        { orderId },
      ]),
    );
    view.shipment = { ...shipment, pickedUp: true };
    note('book-carrier', 'completed', `${shipment.carrier} carrier, tracking ${shipment.trackingNumber}`);
    return { chargedCents: charge.amountCents, shipment };
  }

  let outcome: { chargedCents: number; shipment: ShipmentView } | undefined;
  let failure: unknown;
  try {
    if (view.cancelRequest?.honoured)
      throw ApplicationFailure.create({ type: 'CancelledBeforeStart', message: 'Cancelled before start' });
    outcome = await scope.run(fulfil);
  } catch (error) {
    failure = error;
  }

  if (outcome) {
    const { chargedCents, shipment } = outcome;
    return CancellationScope.nonCancellable(async () => {
      enter('notify');
      try {
        rest();
        await notifications.notifyCustomer.executeWithOptions(
          { ...ACTIVITY_PRESETS.notify, summary: 'E-mail the confirmation and receipt' },
          [{ orderId, kind: 'confirmation' }],
        );
        note('notify', 'completed');
      } catch (error) {
        // The parcel is on its way: a failed e-mail is recorded, never a reason to undo the order.
        note('notify', 'failed', describe(error));
        view.reason = `Shipped, but the confirmation could not be sent to the customer: ${describe(error)}`;
        await dbSteps.markOrder({
          orderId,
          eventKey: 'notify-failed',
          eventType: 'NotificationFailed',
          data: { error: describe(error) },
        });
      }
      // A Temporal cancellation request that arrived once the carrier had the parcel is refused like a
      // cancelOrder signal, and recorded the same way.
      if (root.consideredCancelled && !view.cancelRequest && (lean || patched('record-refused-temporal-cancel'))) {
        view.cancelRequest = {
          reason: 'Temporal workflow cancellation request',
          requestedBy: 'temporal',
          at: new Date().toISOString(),
          honoured: false,
        };
        note('cancel', 'info', 'Temporal cancellation refused: the carrier already has the parcel');
      }
      if (view.cancelRequest && !view.cancelRequest.honoured) {
        await dbSteps.markOrder({
          orderId,
          eventKey: 'cancel-refused',
          eventType: 'CancelRefused',
          data: { ...view.cancelRequest },
        });
      }
      view.status = 'COMPLETED';
      view.step = 'done';
      publish();
      rest();
      await dbSteps.markOrder({
        orderId,
        status: 'COMPLETED',
        step: 'done',
        reason: view.reason ?? null,
        eventKey: 'completed',
        eventType: 'OrderCompleted',
        data: { chargedCents, carrier: shipment.carrier, trackingNumber: shipment.trackingNumber },
      });
      return {
        orderId,
        status: 'COMPLETED',
        chargedCents,
        carrier: shipment.carrier,
        trackingNumber: shipment.trackingNumber,
      };
    });
  }

  const cancelledBySignal = view.cancelRequest?.honoured === true;
  const reason = cancelledBySignal
    ? `Cancelled by ${view.cancelRequest?.requestedBy}: ${view.cancelRequest?.reason}`
    : isCancellation(failure)
      ? 'Cancelled through Temporal (workflow cancellation request)'
      : describe(failure);
  log.warn('order aborted, compensating', { orderId, reason, step: view.step });
  note(view.step, 'failed', reason);
  view.status = 'COMPENSATING';
  view.reason = reason;
  publish();
  rest();

  await CancellationScope.nonCancellable(async () => {
    await dbSteps.markOrder({
      orderId,
      status: 'COMPENSATING',
      reason,
      eventKey: 'compensating',
      eventType: 'CompensationStarted',
      data: { reason, failedStep: view.step },
    });
    for (const compensation of [...undo].reverse()) {
      try {
        await compensation.run();
        view.compensations.push({ name: compensation.name, state: 'completed', at: new Date().toISOString() });
        note('compensation', 'completed', compensation.name);
      } catch (error) {
        // Keep going: every other compensation still runs, and the failure is surfaced as FAILED.
        view.compensations.push({
          name: compensation.name,
          state: 'failed',
          at: new Date().toISOString(),
          error: describe(error),
        });
        note('compensation', 'failed', `${compensation.name}: ${describe(error)}`);
      }
    }
    try {
      await notifications.notifyCustomer.executeWithOptions(
        { ...ACTIVITY_PRESETS.notify, summary: 'E-mail the cancellation notice' },
        [{ orderId, kind: 'cancellation', reason }],
      );
    } catch (error) {
      note('notify', 'failed', `cancellation notice: ${describe(error)}`);
    }
    const failed = view.compensations.filter((c) => c.state === 'failed');
    view.status = failed.length > 0 ? 'FAILED' : 'CANCELLED';
    if (failed.length > 0)
      view.reason = `${reason}; compensation failed: ${failed.map((c) => c.name).join(', ')} (needs an operator)`;
    publish();
    rest();
    await dbSteps.markOrder({
      orderId,
      status: view.status,
      reason: view.reason ?? reason,
      eventKey: 'closed',
      eventType: failed.length > 0 ? 'CompensationFailed' : 'OrderCancelled',
      data: { reason, compensations: view.compensations },
    });
  });

  const failedCompensations = view.compensations.filter((c) => c.state === 'failed');
  if (failedCompensations.length > 0 && (lean || patched('fail-when-compensation-fails'))) {
    // Not cancelled cleanly: the run must not look like a clean cancellation (a CANCELLED result or a Temporal
    // cancellation) in the Web UI, so it fails with the compensations an operator has to finish by hand.
    throw ApplicationFailure.create({
      type: 'CompensationFailed',
      message: `Order ${orderId}: ${view.reason}`,
      nonRetryable: true,
      details: [{ reason, failedCompensations }],
      cause: failure instanceof Error ? failure : undefined,
    });
  }
  if (cancelledBySignal) return { orderId, status: 'CANCELLED', reason };
  if (isCancellation(failure)) throw failure;
  throw ApplicationFailure.create({
    type: failureType(failure),
    message: `Order ${orderId} cancelled: ${reason}`,
    nonRetryable: true,
    cause: failure instanceof Error ? failure : undefined,
  });
}

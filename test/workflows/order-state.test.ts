import { harvestTaskId, type HarvestCompleted, type ShipmentView } from '../../src/workflows/definitions';
import { OrderState } from '../../src/workflows/order-state';

/** The order's state and decisions as plain code: no Temporal server, no database. */
describe('OrderState', () => {
  const lines = [
    { sku: 'TOM-HEIRLOOM', quantity: 2 },
    { sku: 'LET-BUTTER', quantity: 1 },
  ];
  const shipment: ShipmentView = {
    carrier: 'primary',
    labelId: 'lbl-1',
    trackingNumber: 'PRI1',
    pickupDate: '2026-12-03T00:00:00.000Z',
    pickedUp: false,
  };
  let clock = 0;
  const at = () => new Date(Date.UTC(2026, 11, 2) + clock++ * 1000).toISOString();
  const fresh = () => new OrderState({ orderId: 'o-1', lines }, at);
  const report = (yields: HarvestCompleted['yields'], taskId = harvestTaskId('o-1')): HarvestCompleted => ({
    taskId,
    yields,
    reportedBy: 'crew:north',
  });

  /** An order recorded, reserved and waiting for its crew. */
  function awaitingHarvest(): OrderState {
    const order = fresh();
    order.orderRecorded('RUNNING');
    order.stepStarted('reserve-inventory');
    order.stepCompleted('reserve-inventory');
    order.stepStarted('harvest');
    order.harvestScheduled({ taskId: harvestTaskId('o-1'), dueBy: '2026-12-09T00:00:00.000Z' });
    return order;
  }

  describe('progress (what activities record)', () => {
    it('when the order enters the harvest step, then it is AWAITING_HARVEST; when the crew reports, RUNNING again', () => {
      const order = awaitingHarvest();
      expect(order.progress()).toEqual({ status: 'AWAITING_HARVEST', step: 'harvest', reason: null });
      order.harvestReported(report(lines));
      expect(order.progress()).toEqual({ status: 'RUNNING', step: 'harvest', reason: null });
    });

    it('when both carriers fail, then the order is NEEDS_ATTENTION with the reason; a retry clears both', () => {
      const order = awaitingHarvest();
      order.stepStarted('book-carrier');
      order.carrierFailed('primary', 0, 'down');
      order.carrierFailed('backup', 0, 'down');
      order.parked();
      expect(order.progress()).toMatchObject({ status: 'NEEDS_ATTENTION', step: 'book-carrier' });
      expect(order.progress().reason).toMatch(/both carriers failed/i);
      order.retryRequested({ requestedBy: 'ops:alex' });
      order.bookingResumed();
      expect(order.progress()).toEqual({ status: 'RUNNING', step: 'book-carrier', reason: null });
      expect(order.view.carrierAttempts.map((a) => a.outcome)).toEqual(['failed', 'failed']);
    });

    it('when a compensation fails, then the closed order is FAILED and the reason names it; otherwise CANCELLED', () => {
      const failing = awaitingHarvest();
      failing.compensating('payment declined');
      failing.compensated({ name: 'refund', state: 'failed', at: at(), error: 'gateway down' });
      failing.closed();
      expect(failing.progress()).toMatchObject({ status: 'FAILED' });
      expect(failing.progress().reason).toMatch(/payment declined; compensation failed: refund/);

      const clean = awaitingHarvest();
      clean.compensating('payment declined');
      clean.compensated({ name: 'refund', state: 'completed', at: at() });
      clean.closed();
      expect(clean.progress()).toEqual({ status: 'CANCELLED', step: 'harvest', reason: 'payment declined' });
    });

    it('when the confirmation cannot be sent, then the completed order keeps that as its reason', () => {
      const order = awaitingHarvest();
      order.stepStarted('notify');
      order.notificationFailed('smtp down', 'confirmation');
      order.completed();
      expect(order.progress()).toEqual({
        status: 'COMPLETED',
        step: 'done',
        reason: 'Shipped, but the confirmation could not be sent to the customer: smtp down',
      });
    });
  });

  describe('decideCancel / mayCancel', () => {
    it('when the order runs, waits for the crew or is parked, then a cancel is accepted', () => {
      const order = awaitingHarvest();
      expect(order.decideCancel()).toEqual({ accepted: true });
      order.parked();
      expect(order.mayCancel()).toBe(true);
    });

    it('when the parcel is being handed over, then a cancel is too late', () => {
      const order = awaitingHarvest();
      order.handingOver(shipment);
      expect(order.decideCancel()).toMatchObject({ accepted: false, refusal: 'TooLateToCancel' });
      expect(order.mayCancel()).toBe(false);
    });

    it('when the order ended, then a cancel is refused: too late once completed, finished once cancelled', () => {
      const completed = awaitingHarvest();
      completed.completed();
      expect(completed.decideCancel()).toMatchObject({ accepted: false, refusal: 'TooLateToCancel' });
      const cancelled = awaitingHarvest();
      cancelled.compensating('x');
      cancelled.closed();
      expect(cancelled.decideCancel()).toMatchObject({ accepted: false, refusal: 'OrderFinished' });
    });

    it('when a reset run finds its order recorded as COMPLETED or CANCELLED, then cancels are refused from the start', () => {
      const reset = fresh();
      reset.orderRecorded('COMPLETED');
      expect(reset.decideCancel()).toMatchObject({ refusal: 'TooLateToCancel' });
      const resetCancelled = fresh();
      resetCancelled.orderRecorded('CANCELLED');
      expect(resetCancelled.decideCancel()).toMatchObject({ refusal: 'OrderFinished' });
    });

    it('when a cancel is accepted, then the view records it honoured; a refused signal records it not honoured', () => {
      const order = awaitingHarvest();
      order.cancelAccepted({ reason: 'moved house', requestedBy: 'customer:c' });
      expect(order.view.cancelRequest).toMatchObject({ reason: 'moved house', honoured: true });
      expect(order.cancelledOnRequest).toBe(true);

      const late = awaitingHarvest();
      late.handingOver(shipment);
      late.cancelRefused({ reason: 'too late', requestedBy: 'customer:c' }, 'the carrier has it');
      expect(late.view.cancelRequest).toMatchObject({ honoured: false });
      expect(late.view.timeline.at(-1)?.detail).toMatch(/refused: the carrier has it/);
    });
  });

  describe('decideHarvestReport', () => {
    it('when the report is for this task with ordered SKUs and at most the ordered quantities, then it is accepted', () => {
      expect(awaitingHarvest().decideHarvestReport(report([{ sku: 'TOM-HEIRLOOM', quantity: 1 }]))).toEqual({
        accepted: true,
      });
    });

    it('when the report names another task, then WrongHarvestTask', () => {
      expect(awaitingHarvest().decideHarvestReport(report(lines, 'hv-other'))).toMatchObject({
        refusal: 'WrongHarvestTask',
      });
    });

    it('when a report was accepted already, then HarvestAlreadyReported', () => {
      const order = awaitingHarvest();
      order.harvestReported(report(lines));
      expect(order.decideHarvestReport(report(lines))).toMatchObject({ refusal: 'HarvestAlreadyReported' });
    });

    it('when yields name unknown SKUs, too much, negative or fractional quantities or a SKU twice, then each is named', () => {
      const decision = awaitingHarvest().decideHarvestReport(
        report([
          { sku: 'STR-ALBION', quantity: 1 },
          { sku: 'TOM-HEIRLOOM', quantity: 3 },
          { sku: 'LET-BUTTER', quantity: -1 },
          { sku: 'LET-BUTTER', quantity: 0.5 },
        ]),
      );
      expect(decision).toMatchObject({ accepted: false, refusal: 'HarvestReportInvalid' });
      expect(decision.accepted ? [] : decision.errors).toEqual([
        { path: 'yields.0.sku', message: 'STR-ALBION is not on this order' },
        { path: 'yields.1.quantity', message: 'more than the 2 ordered' },
        { path: 'yields.2.quantity', message: 'must be a whole number of 0 or more' },
        { path: 'yields.3.quantity', message: 'must be a whole number of 0 or more' },
        { path: 'yields', message: 'LET-BUTTER is reported twice' },
      ]);
    });

    it('when the report arrives before the harvest wait (a reset run re-applies it first), then it is accepted and kept', () => {
      const order = fresh();
      expect(order.decideHarvestReport(report(lines))).toEqual({ accepted: true });
      order.harvestReported(report(lines));
      order.stepStarted('harvest');
      expect(order.progress().status).toBe('RUNNING');
    });

    it('when the order no longer waits for a harvest (compensating, or past the harvest), then HarvestNotAwaited', () => {
      const undone = awaitingHarvest();
      undone.compensating('HarvestTimedOut');
      expect(undone.decideHarvestReport(report(lines))).toMatchObject({ refusal: 'HarvestNotAwaited' });
    });
  });

  describe('decideRetry / mayRetry', () => {
    it('when the order is parked, then a retry is accepted; otherwise NotParked', () => {
      const order = awaitingHarvest();
      expect(order.decideRetry()).toMatchObject({ accepted: false, refusal: 'NotParked' });
      order.parked();
      expect(order.mayRetry()).toBe(true);
      order.retryRequested({ requestedBy: 'ops:alex' });
      order.bookingResumed();
      expect(order.mayRetry()).toBe(false);
    });
  });
});

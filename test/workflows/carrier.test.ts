import { PARKED_TIMEOUT, retryCarrierBookingSignal, statusQuery } from '../../src/workflows/definitions';
import {
  eventTypes,
  orderRow,
  reportHarvest,
  rowsOf,
  stock,
  workflowFailure,
  type OrderHandle,
} from '../support/scenarios';
import { createWorkflowHarness, waitForStatus, type WorkflowHarness } from '../support/workflow-harness';

interface AttemptRow extends Record<string, unknown> {
  carrier: string;
  attempt: number;
  outcome: string;
}

describe('orderFulfillment: carrier failures', () => {
  let h: WorkflowHarness;
  beforeAll(async () => {
    h = await createWorkflowHarness();
  }, 120_000);
  afterAll(() => h?.teardown());
  afterEach(() => h.admin.clearFaults());

  const attempts = (orderId: string) =>
    h.db.query<AttemptRow>('select carrier, attempt, outcome from shipment_attempts where order_id = $1 order by id', [
      orderId,
    ]);

  /** Park the order: both carriers are down until the test says otherwise. */
  async function parkWithOutage(handle: OrderHandle, input: ReturnType<WorkflowHarness['order']>) {
    await h.admin.setFaults({ primary: { outage: true }, backup: { outage: true } });
    await reportHarvest(handle, input);
    // Both carriers burn their retry budgets (1 s + 2 s of backoff each): skip that much time, no more,
    // so the parking timer itself is not skipped.
    await h.env.sleep('7 seconds');
    return waitForStatus(handle, (v) => v.status === 'NEEDS_ATTENTION', 40_000);
  }

  it('when the primary carrier is down, then the backup carrier books after the primary exhausts its 3 attempts', async () => {
    const input = h.order();
    const { orderId } = input;
    await h.admin.setFaults({ primary: { outage: true } });

    const { result, view } = await h.run(input, async (handle) => {
      await reportHarvest(handle, input);
      const result = await handle.result();
      return { result, view: await handle.query(statusQuery) };
    });

    expect(result).toMatchObject({ orderId, status: 'COMPLETED', carrier: 'backup', chargedCents: 1550 });
    expect(result.trackingNumber).toMatch(/^BAK/);
    expect(view.carrierAttempts).toEqual([
      { carrier: 'primary', round: 0, outcome: 'failed', detail: expect.stringMatching(/primary unavailable.*503/) },
      { carrier: 'backup', round: 0, outcome: 'booked' },
    ]);
    expect(view.shipment).toMatchObject({ carrier: 'backup', trackingNumber: result.trackingNumber, pickedUp: true });

    expect(await rowsOf(h, 'shipments', orderId, 'carrier, status, tracking_number')).toEqual([
      { carrier: 'backup', status: 'PICKED_UP', tracking_number: result.trackingNumber },
    ]);
    expect(await attempts(orderId)).toEqual([
      { carrier: 'backup', attempt: 1, outcome: 'booked' },
      { carrier: 'primary', attempt: 1, outcome: 'failed' },
      { carrier: 'primary', attempt: 2, outcome: 'failed' },
      { carrier: 'primary', attempt: 3, outcome: 'failed' },
    ]);
    expect(await orderRow(h, orderId)).toMatchObject({ status: 'COMPLETED', step: 'done' });
    expect(await h.admin.listShipments('primary', orderId)).toEqual([]);
    const labels = await h.admin.listShipments('backup', orderId);
    expect(labels).toEqual([expect.objectContaining({ status: 'PICKED_UP', trackingCode: result.trackingNumber })]);
    expect(await h.admin.listPaymentIntents(orderId)).toHaveLength(1);
  });

  it('when both carriers are down, then the order parks in NEEDS_ATTENTION and an operator retry after recovery COMPLETES it', async () => {
    const input = h.order();
    const { orderId } = input;

    const { parked, parkedRow, result, view } = await h.run(input, async (handle) => {
      const parked = await parkWithOutage(handle, input);
      const parkedRow = await orderRow(h, orderId);
      await h.admin.clearFaults();
      await handle.signal(retryCarrierBookingSignal, { requestedBy: 'ops:alice', note: 'carriers back up' });
      const result = await handle.result();
      return { parked, parkedRow, result, view: await handle.query(statusQuery) };
    });

    expect(parked).toMatchObject({ status: 'NEEDS_ATTENTION', step: 'book-carrier' });
    expect(parked.reason).toMatch(/both carriers failed.*operator to retry or cancel/i);
    expect(parked.carrierAttempts.map((a) => [a.carrier, a.round, a.outcome])).toEqual([
      ['primary', 0, 'failed'],
      ['backup', 0, 'failed'],
    ]);
    expect(parkedRow).toMatchObject({ status: 'NEEDS_ATTENTION', step: 'book-carrier' });
    expect(parkedRow?.outcome_reason).toMatch(/both carriers failed/i);

    expect(result).toMatchObject({ orderId, status: 'COMPLETED', carrier: 'primary' });
    expect(view.reason).toBeUndefined();
    expect(view.carrierAttempts.map((a) => [a.carrier, a.round, a.outcome])).toEqual([
      ['primary', 0, 'failed'],
      ['backup', 0, 'failed'],
      ['primary', 1, 'booked'],
    ]);
    expect(view.timeline.some((t) => t.detail === 'booking retried by ops:alice')).toBe(true);

    expect(await orderRow(h, orderId)).toMatchObject({ status: 'COMPLETED', step: 'done', outcome_reason: null });
    const tried = await attempts(orderId);
    expect(tried.filter((a) => a.carrier === 'primary' && a.outcome === 'failed')).toHaveLength(3);
    expect(tried.filter((a) => a.carrier === 'backup' && a.outcome === 'failed')).toHaveLength(3);
    expect(tried.filter((a) => a.outcome === 'booked')).toEqual([
      { carrier: 'primary', attempt: 1, outcome: 'booked' },
    ]);
    const events = await eventTypes(h, orderId);
    expect(events.slice(events.indexOf('PaymentCaptured'))).toEqual([
      'PaymentCaptured',
      'OrderParked',
      'CarrierRetryRequested',
      'CarrierBooked',
      'ParcelPickedUp',
      'CustomerNotified',
      'OrderCompleted',
    ]);
    expect(await h.admin.listShipments('primary', orderId)).toEqual([expect.objectContaining({ status: 'PICKED_UP' })]);
    expect(await h.admin.listShipments('backup', orderId)).toEqual([]);
    expect(await h.admin.listPaymentIntents(orderId)).toHaveLength(1);
  });

  it(`when a parked order gets no operator decision within ${PARKED_TIMEOUT}, then ParkedTimedOut refunds the charge in full and returns the stock`, async () => {
    const before = await stock(h);
    const input = h.order();
    const { orderId } = input;

    const { failure, activity, view, parkedAt } = await h.run(input, async (handle) => {
      const parked = await parkWithOutage(handle, input);
      const parkedAt = parked.timeline.find((t) => t.state === 'waiting' && t.step === 'book-carrier')!.at;
      // Nobody answers: awaiting the result lets the test server skip the parking time.
      const outcome = await workflowFailure(handle.result());
      return { ...outcome, parkedAt, view: await handle.query(statusQuery) };
    });

    expect(failure.type).toBe('ParkedTimedOut');
    expect(activity).toBeUndefined();
    expect(view.status).toBe('CANCELLED');
    expect(view.reason).toMatch(/no operator decision within 3 days after both carriers failed/i);
    const gaveUp = view.timeline.find(
      (t) => t.step === 'book-carrier' && t.state === 'failed' && /no operator decision/i.test(t.detail ?? ''),
    )!;
    expect(Date.parse(gaveUp.at) - Date.parse(parkedAt)).toBeGreaterThanOrEqual(3 * 24 * 3600 * 1000);
    expect(view.compensations.map((c) => [c.name, c.state])).toEqual([
      ['void-label', 'completed'],
      ['refund', 'completed'],
      ['unpack', 'completed'],
      ['cancel-harvest', 'completed'],
      ['release-reservation', 'completed'],
    ]);

    const charges = await h.admin.listPaymentIntents(orderId);
    expect(charges).toEqual([expect.objectContaining({ status: 'succeeded', amount: 1550 })]);
    const refunds = await h.admin.listRefunds(orderId);
    expect(refunds).toEqual([expect.objectContaining({ paymentIntentId: charges[0]!.id, amount: charges[0]!.amount })]);
    expect(await h.admin.listShipments('primary', orderId)).toEqual([]);
    expect(await h.admin.listShipments('backup', orderId)).toEqual([]);

    expect(await orderRow(h, orderId)).toMatchObject({
      status: 'CANCELLED',
      charged_cents: 1550,
      refunded_cents: 1550,
    });
    expect(await rowsOf(h, 'payments', orderId, 'status')).toEqual([{ status: 'REFUNDED' }]);
    expect(await rowsOf(h, 'refunds', orderId, 'amount_cents, provider_refund_id')).toEqual([
      { amount_cents: 1550, provider_refund_id: refunds[0]!.id },
    ]);
    expect(await rowsOf(h, 'shipments', orderId)).toEqual([]);
    expect((await rowsOf(h, 'packages', orderId, 'status')).map((p) => p.status)).toEqual(['UNPACKED']);
    expect(await stock(h)).toEqual(before);
    const messages = await h.admin.listMessages(orderId);
    expect(messages.map((m) => m.subject)).toEqual([expect.stringMatching(/cancelled/i)]);
    expect(messages[0]?.text).toMatch(/Refunded: 15\.50 USD/);
  });
});

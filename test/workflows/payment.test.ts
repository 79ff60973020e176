import { idempotencyKeys, statusQuery } from '../../src/workflows/definitions';
import { eventTypes, orderRow, reportHarvest, rowsOf, stock, workflowFailure } from '../support/scenarios';
import { createWorkflowHarness, type WorkflowHarness } from '../support/workflow-harness';

/** The provider client gives up on a call after this long; a hang longer than it is a lost response. */
// Short enough that a lost answer (a 10x longer hang) is quick to detect, long enough for a loaded CI machine.
const PROVIDER_TIMEOUT_MS = 1_000;

describe('orderFulfillment: payment failures', () => {
  let h: WorkflowHarness;
  beforeAll(async () => {
    h = await createWorkflowHarness({ providerTimeoutMs: PROVIDER_TIMEOUT_MS });
  }, 120_000);
  afterAll(() => h?.teardown());
  afterEach(() => h.admin.clearFaults());

  it('when the card is declined, then PaymentDeclined unpacks, returns the produce and leaves no successful charge', async () => {
    const before = await stock(h);
    const input = h.order({ paymentMethod: 'pm_card_chargeDeclined' });
    const { orderId } = input;

    const { failure, activity, root, view } = await h.run(input, async (handle) => {
      await reportHarvest(handle, input);
      const outcome = await workflowFailure(handle.result());
      return { ...outcome, view: await handle.query(statusQuery) };
    });

    expect(failure.type).toBe('PaymentDeclined');
    expect(activity?.activityType).toBe('chargeOrder');
    expect(root?.type).toBe('PaymentDeclined');
    expect(root?.nonRetryable).toBe(true);
    expect(view).toMatchObject({ status: 'CANCELLED', step: 'charge' });
    expect(view.reason).toMatch(/declined/i);
    expect(view.payment).toBeUndefined();
    expect(view.compensations.map((c) => [c.name, c.state])).toEqual([
      ['refund', 'completed'],
      ['unpack', 'completed'],
      ['cancel-harvest', 'completed'],
      ['release-reservation', 'completed'],
    ]);

    expect(await orderRow(h, orderId)).toMatchObject({ status: 'CANCELLED', charged_cents: null, refunded_cents: 0 });
    expect((await orderRow(h, orderId))?.outcome_reason).toMatch(/declined/i);
    expect(await rowsOf(h, 'payments', orderId, 'status, amount_cents, idempotency_key')).toEqual([
      { status: 'DECLINED', amount_cents: 1550, idempotency_key: idempotencyKeys.charge(orderId) },
    ]);
    expect(await rowsOf(h, 'refunds', orderId)).toEqual([]);
    expect((await rowsOf(h, 'packages', orderId, 'status')).map((p) => p.status)).toEqual(['UNPACKED']);
    expect((await rowsOf(h, 'harvest_tasks', orderId, 'status')).map((t) => t.status)).toEqual(['RETURNED']);
    expect(await stock(h)).toEqual(before);
    expect(await eventTypes(h, orderId)).toEqual([
      'OrderReceived',
      'InventoryReserved',
      'HarvestScheduled',
      'HarvestCompleted',
      'OrderPacked',
      'PaymentDeclined',
      'CompensationStarted',
      'OrderUnpacked',
      'HarvestReturnedToStock',
      'CustomerNotified',
      'OrderCancelled',
    ]);

    const charges = await h.admin.listPaymentIntents(orderId);
    expect(charges).toHaveLength(1);
    expect(charges[0]).toMatchObject({
      status: 'requires_payment_method',
      declineCode: 'generic_decline',
      idempotencyKey: idempotencyKeys.charge(orderId),
    });
    expect(charges.filter((c) => c.status === 'succeeded')).toEqual([]);
    expect(await h.admin.listRefunds(orderId)).toEqual([]);
    expect((await h.admin.listMessages(orderId)).map((m) => m.subject)).toEqual([expect.stringMatching(/cancelled/i)]);
  });

  it('when the gateway charges but its answer is lost, then the retry replays the same charge and the order COMPLETES with exactly one charge', async () => {
    const input = h.order();
    const { orderId } = input;

    const attemptErrors: string[] = [];

    const { result, history } = await h.run(
      input,
      async (handle) => {
        await reportHarvest(handle, input);
        // The next charge commits, then hangs far longer than the client waits: a lost response.
        await h.admin.setFaults({ payments: { timeoutNext: 1, hangMs: PROVIDER_TIMEOUT_MS * 10 } });
        const result = await handle.result();
        return { result, history: await handle.fetchHistory() };
      },
      {
        // The real activity, watched: what each failed attempt threw.
        activities: (real) => ({
          chargeOrder: async (args) => {
            try {
              return await real.chargeOrder(args);
            } catch (error) {
              attemptErrors.push((error as Error).message);
              throw error;
            }
          },
        }),
      },
    );

    expect(result).toMatchObject({ orderId, status: 'COMPLETED', chargedCents: 1550 });
    expect((await h.admin.getFaults()).payments.timeoutNext).toBe(0); // the fault did fire

    // The charge activity needed a second attempt, after the first timed out.
    const events = history.events ?? [];
    const chargeScheduled = events.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'chargeOrder',
    );
    const chargeStarted = events.find(
      (e) =>
        e.activityTaskStartedEventAttributes &&
        String(e.activityTaskStartedEventAttributes.scheduledEventId) === String(chargeScheduled?.eventId),
    );
    expect(chargeStarted?.activityTaskStartedEventAttributes?.attempt).toBe(2);
    expect(attemptErrors).toEqual([
      expect.stringMatching(new RegExp(`payments unavailable: POST .* timed out after ${PROVIDER_TIMEOUT_MS} ms`)),
    ]);

    const charges = await h.admin.listPaymentIntents(orderId);
    expect(charges).toHaveLength(1);
    expect(charges[0]).toMatchObject({
      status: 'succeeded',
      amount: 1550,
      idempotencyKey: idempotencyKeys.charge(orderId),
    });
    expect(await rowsOf(h, 'payments', orderId, 'status, amount_cents, provider_charge_id')).toEqual([
      { status: 'SUCCEEDED', amount_cents: 1550, provider_charge_id: charges[0]!.id },
    ]);
    expect(await orderRow(h, orderId)).toMatchObject({ status: 'COMPLETED', charged_cents: 1550, refunded_cents: 0 });
    expect((await eventTypes(h, orderId)).filter((t) => t === 'PaymentCaptured')).toHaveLength(1);
    expect(await h.admin.listRefunds(orderId)).toEqual([]);
  });
});

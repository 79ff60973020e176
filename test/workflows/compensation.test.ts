import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { cancelOrderSignal, statusQuery, type CancelOrder } from '../../src/workflows/definitions';
import { eventTypes, orderRow, parkAtOnce, reportHarvest, rowsOf, stock, type OrderHandle } from '../support/scenarios';
import { createWorkflowHarness, type WorkflowHarness } from '../support/workflow-harness';

const CANCEL: CancelOrder = { reason: 'no carrier, no deal', requestedBy: 'ops:carol' };

describe('orderFulfillment: compensations and notifications', () => {
  let h: WorkflowHarness;
  beforeAll(async () => {
    h = await createWorkflowHarness();
  }, 120_000);
  afterAll(() => h?.teardown());
  afterEach(() => h.admin.clearFaults());

  /** Charge the order, park it (both carriers refuse at once), then cancel it so the refund must run. */
  async function chargeParkAndCancel(handle: OrderHandle, input: ReturnType<WorkflowHarness['order']>) {
    await parkAtOnce(h, handle, input);
    await handle.signal(cancelOrderSignal, CANCEL);
  }

  it('when a compensation fails twice and then succeeds, then the order is CANCELLED with exactly one refund', async () => {
    const before = await stock(h);
    const input = h.order();
    const { orderId } = input;
    const refundErrors: string[] = [];
    let refundCalls = 0;

    const { result, view } = await h.run(
      input,
      async (handle) => {
        await chargeParkAndCancel(handle, input);
        const result = await handle.result();
        return { result, view: await handle.query(statusQuery) };
      },
      {
        activities: (real) => ({
          refundOrder: async (args) => {
            refundCalls += 1;
            if (refundCalls <= 2) {
              const error = new Error(`payments database briefly unreachable (call ${refundCalls})`);
              refundErrors.push(error.message);
              throw error;
            }
            return real.refundOrder(args);
          },
        }),
      },
    );

    expect(refundCalls).toBe(3);
    expect(refundErrors).toHaveLength(2);
    expect(result).toMatchObject({
      orderId,
      status: 'CANCELLED',
      reason: 'Cancelled by ops:carol: no carrier, no deal',
    });
    expect(view.status).toBe('CANCELLED');
    expect(view.compensations.map((c) => [c.name, c.state])).toEqual([
      ['void-label', 'completed'],
      ['refund', 'completed'],
      ['unpack', 'completed'],
      ['cancel-harvest', 'completed'],
      ['release-reservation', 'completed'],
    ]);

    const charges = await h.admin.listPaymentIntents(orderId);
    expect(charges).toEqual([expect.objectContaining({ status: 'succeeded', amount: 1550 })]);
    expect(await h.admin.listRefunds(orderId)).toEqual([
      expect.objectContaining({ paymentIntentId: charges[0]!.id, amount: 1550 }),
    ]);
    expect(await rowsOf(h, 'refunds', orderId, 'amount_cents')).toEqual([{ amount_cents: 1550 }]);
    expect(await orderRow(h, orderId)).toMatchObject({ status: 'CANCELLED', refunded_cents: 1550 });
    expect((await eventTypes(h, orderId)).filter((e) => e === 'PaymentRefunded')).toHaveLength(1);
    expect(await stock(h)).toEqual(before);
  });

  it('when a compensation keeps failing, then the other compensations still run and the order is FAILED for an operator, not CANCELLED', async () => {
    const before = await stock(h);
    const input = h.order();
    const { orderId } = input;
    let refundCalls = 0;

    const { error, view } = await h.run(
      input,
      async (handle) => {
        await chargeParkAndCancel(handle, input);
        const error = await handle.result().then(
          (value) => value,
          (e: unknown) => e,
        );
        return { error, view: await handle.query(statusQuery) };
      },
      {
        activities: {
          refundOrder: async () => {
            refundCalls += 1;
            throw new Error('refund ledger is corrupt');
          },
        },
      },
    );

    // Every attempt of the compensation's retry budget was spent before giving up.
    expect(refundCalls).toBe(20);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const failure = (error as WorkflowFailedError).cause;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect((failure as ApplicationFailure).type).toBe('CompensationFailed');
    expect(failure?.message).toMatch(/compensation failed: refund/);

    expect(view.status).toBe('FAILED');
    expect(view.reason).toMatch(
      /cancelled by ops:carol: no carrier, no deal; compensation failed: refund \(needs an operator\)/i,
    );
    expect(view.compensations.map((c) => [c.name, c.state])).toEqual([
      ['void-label', 'completed'],
      ['refund', 'failed'],
      ['unpack', 'completed'],
      ['cancel-harvest', 'completed'],
      ['release-reservation', 'completed'],
    ]);
    expect(view.compensations.find((c) => c.name === 'refund')?.error).toMatch(/refund ledger is corrupt/);

    const row = await orderRow(h, orderId);
    expect(row).toMatchObject({ status: 'FAILED', charged_cents: 1550, refunded_cents: 0 });
    expect(row?.outcome_reason).toMatch(/compensation failed: refund/);
    expect((await eventTypes(h, orderId)).slice(-2)).toEqual(['CustomerNotified', 'CompensationFailed']);
    expect(await stock(h)).toEqual(before); // the produce still went back
    expect(await h.admin.listRefunds(orderId)).toEqual([]); // and the money is visibly still owed
  });

  it('when the notification channel is down, then the order still COMPLETES and a NotificationFailed event is recorded', async () => {
    const input = h.order();
    const { orderId } = input;

    const { result, view } = await h.run(input, async (handle) => {
      await reportHarvest(handle, input);
      await h.admin.setFaults({ notifications: { outage: true } });
      const result = await handle.result();
      return { result, view: await handle.query(statusQuery) };
    });

    expect(result).toMatchObject({ orderId, status: 'COMPLETED', chargedCents: 1550, carrier: 'primary' });
    expect(view.status).toBe('COMPLETED');
    expect(view.reason).toMatch(/confirmation could not be sent.*notifications unavailable/i);
    expect(view.timeline).toContainEqual(expect.objectContaining({ step: 'notify', state: 'failed' }));
    expect(view.compensations).toEqual([]);

    const row = await orderRow(h, orderId);
    expect(row).toMatchObject({ status: 'COMPLETED', step: 'done', charged_cents: 1550, refunded_cents: 0 });
    expect(row?.outcome_reason).toMatch(/confirmation could not be sent/i);
    expect((await eventTypes(h, orderId)).slice(-3)).toEqual([
      'ParcelPickedUp',
      'NotificationFailed',
      'OrderCompleted',
    ]);
    const [failed] = await h.db.query<{ data: { error: string } }>(
      `select data from order_events where order_id = $1 and event_type = 'NotificationFailed'`,
      [orderId],
    );
    expect(failed?.data.error).toMatch(/answered 451/);
    expect(await rowsOf(h, 'notifications', orderId)).toEqual([]);
    expect(await h.admin.listMessages(orderId)).toEqual([]);
    expect(await h.admin.listPaymentIntents(orderId)).toHaveLength(1);
    expect(await h.admin.listRefunds(orderId)).toEqual([]);
    expect(await h.admin.listShipments('primary', orderId)).toEqual([expect.objectContaining({ status: 'PICKED_UP' })]);
  });
});

import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { cancelOrderSignal, statusQuery, type CancelOrder } from '../../src/workflows/definitions';
import {
  eventTypes,
  gate,
  orderRow,
  parkAtOnce,
  reportHarvest,
  rowsOf,
  stock,
  type OrderHandle,
  type Stock,
} from '../support/scenarios';
import { createWorkflowHarness, waitForStatus, type WorkflowHarness } from '../support/workflow-harness';

const CANCEL: CancelOrder = { reason: 'changed my mind', requestedBy: 'customer:cust-demo' };

describe('orderFulfillment: cancellation', () => {
  let h: WorkflowHarness;
  beforeAll(async () => {
    h = await createWorkflowHarness();
  }, 120_000);
  afterAll(() => h?.teardown());
  afterEach(() => h.admin.clearFaults());

  /** Send the customer's cancel and wait until the workflow has taken it in. */
  async function cancel(handle: OrderHandle, request: CancelOrder = CANCEL) {
    await handle.signal(cancelOrderSignal, request);
    return waitForStatus(handle, (v) => v.cancelRequest !== undefined);
  }

  /** Every trace of the order is undone: stock as before, nothing reserved, packed or shipped, money back. */
  async function expectUndone(orderId: string, before: Record<string, Stock>, charged: boolean) {
    const row = await orderRow(h, orderId);
    expect(row?.status).toBe('CANCELLED');
    expect(await stock(h)).toEqual(before);
    expect((await rowsOf(h, 'reservations', orderId, 'status')).every((r) => r.status !== 'ACTIVE')).toBe(true);
    expect(
      (await rowsOf(h, 'harvest_tasks', orderId, 'status')).every((t) =>
        ['CANCELLED', 'RETURNED'].includes(t.status as string),
      ),
    ).toBe(true);
    expect((await rowsOf(h, 'packages', orderId, 'status')).every((p) => p.status === 'UNPACKED')).toBe(true);
    expect((await rowsOf(h, 'shipments', orderId, 'status')).every((s) => s.status === 'VOIDED')).toBe(true);
    for (const carrier of ['primary', 'backup'] as const) {
      expect((await h.admin.listShipments(carrier, orderId)).every((l) => l.status === 'VOIDED')).toBe(true);
    }
    const charges = (await h.admin.listPaymentIntents(orderId)).filter((c) => c.status === 'succeeded');
    const refunds = await h.admin.listRefunds(orderId);
    if (charged) {
      expect(charges).toHaveLength(1);
      expect(refunds).toEqual([
        expect.objectContaining({ paymentIntentId: charges[0]!.id, amount: charges[0]!.amount }),
      ]);
      expect(row).toMatchObject({ charged_cents: charges[0]!.amount, refunded_cents: charges[0]!.amount });
      expect(await rowsOf(h, 'payments', orderId, 'status')).toEqual([{ status: 'REFUNDED' }]);
    } else {
      expect(charges).toEqual([]);
      expect(refunds).toEqual([]);
    }
    const messages = await h.admin.listMessages(orderId);
    expect(messages.map((m) => m.subject)).toEqual([expect.stringMatching(/cancelled/i)]);
  }

  it('when the customer cancels while the order waits for the harvest, then it is CANCELLED and the reservation and task are undone', async () => {
    const before = await stock(h);
    const input = h.order();
    const { orderId } = input;

    const { result, view } = await h.run(input, async (handle) => {
      await waitForStatus(handle, (v) => v.status === 'AWAITING_HARVEST');
      await cancel(handle);
      const result = await handle.result();
      return { result, view: await handle.query(statusQuery) };
    });

    expect(result).toEqual({
      orderId,
      status: 'CANCELLED',
      reason: 'Cancelled by customer:cust-demo: changed my mind',
    });
    expect(view).toMatchObject({ status: 'CANCELLED', step: 'harvest', cancelRequest: { ...CANCEL, honoured: true } });
    expect(view.reason).toMatch(/cancelled by customer:cust-demo: changed my mind/i);
    expect(view.compensations.map((c) => [c.name, c.state])).toEqual([
      ['cancel-harvest', 'completed'],
      ['release-reservation', 'completed'],
    ]);
    expect((await rowsOf(h, 'harvest_tasks', orderId, 'status')).map((t) => t.status)).toEqual(['CANCELLED']);
    expect((await rowsOf(h, 'reservations', orderId, 'status')).map((r) => r.status)).toEqual(['RELEASED', 'RELEASED']);
    expect((await orderRow(h, orderId))?.outcome_reason).toMatch(/cancelled by customer/i);
    await expectUndone(orderId, before, false);
  });

  it('when the customer cancels a parked order (NEEDS_ATTENTION), then it is CANCELLED and the charge is refunded', async () => {
    const before = await stock(h);
    const input = h.order();
    const { orderId } = input;

    const { result, view } = await h.run(input, async (handle) => {
      await parkAtOnce(h, handle, input);
      await cancel(handle, { reason: 'no carrier, no deal', requestedBy: 'ops:bob' });
      const result = await handle.result();
      return { result, view: await handle.query(statusQuery) };
    });

    expect(result).toMatchObject({ orderId, status: 'CANCELLED' });
    expect(result.reason).toMatch(/cancelled by ops:bob: no carrier, no deal/i);
    expect(view.status).toBe('CANCELLED');
    expect(view.compensations.map((c) => [c.name, c.state])).toEqual([
      ['void-label', 'completed'],
      ['refund', 'completed'],
      ['unpack', 'completed'],
      ['cancel-harvest', 'completed'],
      ['release-reservation', 'completed'],
    ]);
    const events = await eventTypes(h, orderId);
    expect(events.slice(events.indexOf('OrderParked'))).toEqual([
      'OrderParked',
      'CompensationStarted',
      'PaymentRefunded',
      'OrderUnpacked',
      'HarvestReturnedToStock',
      'CustomerNotified',
      'OrderCancelled',
    ]);
    await expectUndone(orderId, before, true);
  });

  it('when the customer cancels while stock is being reserved, then the reservation that lands afterwards is released', async () => {
    const before = await stock(h);
    const input = h.order();
    const { orderId } = input;
    const held = gate();

    const { result, view } = await h.run(
      input,
      async (handle) => {
        await held.entered;
        await cancel(handle);
        held.release();
        const result = await handle.result();
        return { result, view: await handle.query(statusQuery) };
      },
      {
        activities: (real) => ({
          // The reservation is made, then the activity is slow to report back.
          reserveInventory: async (args) => {
            const reserved = await real.reserveInventory(args);
            held.markEntered();
            await held.released;
            return reserved;
          },
        }),
      },
    );

    expect(result).toMatchObject({ orderId, status: 'CANCELLED' });
    expect(view.compensations.every((c) => c.state === 'completed')).toBe(true);
    expect(view.compensations.map((c) => c.name)).toContain('release-reservation');
    expect((await rowsOf(h, 'reservations', orderId, 'status')).map((r) => r.status)).toEqual(['RELEASED', 'RELEASED']);
    expect(await rowsOf(h, 'harvest_tasks', orderId)).toEqual([]); // no task is opened after the cancel
    await expectUndone(orderId, before, false);
  });

  it('when the customer cancels while the card is being charged, then the charge that lands afterwards is refunded', async () => {
    const before = await stock(h);
    const input = h.order();
    const { orderId } = input;
    const held = gate();

    const { result, view } = await h.run(
      input,
      async (handle) => {
        await reportHarvest(handle, input);
        await held.entered;
        await cancel(handle);
        held.release();
        const result = await handle.result();
        return { result, view: await handle.query(statusQuery) };
      },
      {
        activities: (real) => ({
          chargeOrder: async (args) => {
            const charge = await real.chargeOrder(args);
            held.markEntered();
            await held.released;
            return charge;
          },
        }),
      },
    );

    expect(result).toMatchObject({ orderId, status: 'CANCELLED' });
    expect(view.compensations.every((c) => c.state === 'completed')).toBe(true);
    expect(view.compensations.map((c) => c.name)).toEqual(
      expect.arrayContaining(['refund', 'unpack', 'cancel-harvest', 'release-reservation']),
    );
    expect(await rowsOf(h, 'shipments', orderId)).toEqual([]); // no label is booked after the cancel
    await expectUndone(orderId, before, true);
  });

  it('when the customer cancels while the carrier is being booked (before pickup), then the label is voided and the charge refunded', async () => {
    const before = await stock(h);
    const input = h.order();
    const { orderId } = input;
    const held = gate();

    const { result, view } = await h.run(
      input,
      async (handle) => {
        await reportHarvest(handle, input);
        await held.entered;
        const taken = await cancel(handle);
        expect(taken.cancelRequest?.honoured).toBe(true);
        held.release();
        const result = await handle.result();
        return { result, view: await handle.query(statusQuery) };
      },
      {
        activities: (real) => ({
          bookCarrier: async (args) => {
            const shipment = await real.bookCarrier(args);
            held.markEntered();
            await held.released;
            return shipment;
          },
        }),
      },
    );

    expect(result).toMatchObject({ orderId, status: 'CANCELLED' });
    expect(view.shipment?.pickedUp ?? false).toBe(false);
    expect(view.compensations.map((c) => [c.name, c.state])).toEqual([
      ['void-label', 'completed'],
      ['refund', 'completed'],
      ['unpack', 'completed'],
      ['cancel-harvest', 'completed'],
      ['release-reservation', 'completed'],
    ]);
    expect(await rowsOf(h, 'shipments', orderId, 'carrier, status')).toEqual([
      { carrier: 'primary', status: 'VOIDED' },
    ]);
    expect(await h.admin.listShipments('primary', orderId)).toEqual([
      expect.objectContaining({ status: 'VOIDED', pickedUpAt: null }),
    ]);
    expect(await eventTypes(h, orderId)).not.toContain('ParcelPickedUp');
    await expectUndone(orderId, before, true);
  });

  it('when Temporal cancels the workflow during the harvest wait, then it fails with CancelledFailure after compensating', async () => {
    const before = await stock(h);
    const input = h.order();
    const { orderId } = input;

    const { error, view } = await h.run(input, async (handle) => {
      await waitForStatus(handle, (v) => v.status === 'AWAITING_HARVEST');
      await handle.cancel();
      const error = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      return { error, view: await handle.query(statusQuery) };
    });

    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(view.status).toBe('CANCELLED');
    expect(view.reason).toMatch(/cancelled through temporal/i);
    expect(view.cancelRequest).toBeUndefined();
    expect(view.compensations.map((c) => [c.name, c.state])).toEqual([
      ['cancel-harvest', 'completed'],
      ['release-reservation', 'completed'],
    ]);
    expect((await orderRow(h, orderId))?.outcome_reason).toMatch(/cancelled through temporal/i);
    expect((await rowsOf(h, 'harvest_tasks', orderId, 'status')).map((t) => t.status)).toEqual(['CANCELLED']);
    await expectUndone(orderId, before, false);
  });

  it('when Temporal cancellation is requested after pickup, then it is refused, recorded, and the order COMPLETES', async () => {
    const input = h.order();
    const { orderId } = input;
    const held = gate();
    const { result, view } = await h.run(
      input,
      async (handle) => {
        await reportHarvest(handle, input);
        await held.entered;
        await handle.cancel();
        held.release();
        const result = await handle.result();
        return { result, view: await handle.query(statusQuery) };
      },
      {
        activities: (real) => ({
          notifyCustomer: async (args) => {
            if (args.kind === 'confirmation') {
              held.markEntered();
              await held.released;
            }
            return real.notifyCustomer(args);
          },
        }),
      },
    );
    expect(result).toMatchObject({ orderId, status: 'COMPLETED' });
    expect(view.cancelRequest).toMatchObject({ requestedBy: 'temporal', honoured: false });
    expect(view.compensations).toEqual([]);
    expect(await eventTypes(h, orderId)).toContain('CancelRefused');
    expect(await h.admin.listRefunds(orderId)).toEqual([]);
  });

  it('when the customer cancels after the carrier picked up the parcel, then the cancel is refused, recorded, and the order COMPLETES', async () => {
    const input = h.order();
    const { orderId } = input;
    const held = gate();

    const { refused, result, view } = await h.run(
      input,
      async (handle) => {
        await reportHarvest(handle, input);
        await held.entered;
        const refused = await cancel(handle);
        held.release();
        const result = await handle.result();
        return { refused, result, view: await handle.query(statusQuery) };
      },
      {
        activities: (real) => ({
          notifyCustomer: async (args) => {
            if (args.kind === 'confirmation') {
              held.markEntered();
              await held.released;
            }
            return real.notifyCustomer(args);
          },
        }),
      },
    );

    expect(refused.cancelRequest).toMatchObject({ ...CANCEL, honoured: false });
    expect(refused.status).toBe('RUNNING');
    expect(result).toMatchObject({ orderId, status: 'COMPLETED', chargedCents: 1550 });
    expect(view.cancelRequest).toMatchObject({ ...CANCEL, honoured: false });
    expect(view.timeline).toContainEqual(
      expect.objectContaining({
        step: 'cancel',
        state: 'info',
        detail: expect.stringMatching(/refused: the carrier already has the parcel/),
      }),
    );
    expect(view.compensations).toEqual([]);

    expect(await orderRow(h, orderId)).toMatchObject({ status: 'COMPLETED', refunded_cents: 0 });
    const events = await eventTypes(h, orderId);
    expect(events.slice(-4)).toEqual(['ParcelPickedUp', 'CustomerNotified', 'CancelRefused', 'OrderCompleted']);
    const [refusal] = await h.db.query<{ data: Record<string, unknown> }>(
      `select data from order_events where order_id = $1 and event_type = 'CancelRefused'`,
      [orderId],
    );
    expect(refusal?.data).toMatchObject({ ...CANCEL, honoured: false });
    expect(await h.admin.listRefunds(orderId)).toEqual([]);
    expect(await h.admin.listShipments('primary', orderId)).toEqual([expect.objectContaining({ status: 'PICKED_UP' })]);
  });

  it('when the customer cancels twice, then the second cancel is harmless: one set of compensations, one refund', async () => {
    const before = await stock(h);
    const input = h.order();
    const { orderId } = input;

    const { result, view } = await h.run(input, async (handle) => {
      await parkAtOnce(h, handle, input);
      await handle.signal(cancelOrderSignal, CANCEL);
      await handle.signal(cancelOrderSignal, { reason: 'really, cancel it', requestedBy: 'customer:cust-demo' });
      const result = await handle.result();
      return { result, view: await handle.query(statusQuery) };
    });

    expect(result).toEqual({
      orderId,
      status: 'CANCELLED',
      reason: 'Cancelled by customer:cust-demo: changed my mind',
    });
    expect(view.cancelRequest).toMatchObject({ ...CANCEL, honoured: true });
    expect(view.timeline.filter((t) => t.step === 'cancel')).toHaveLength(1);
    expect(view.compensations.map((c) => c.name)).toEqual([
      'void-label',
      'refund',
      'unpack',
      'cancel-harvest',
      'release-reservation',
    ]);
    const events = await eventTypes(h, orderId);
    for (const type of [
      'CompensationStarted',
      'PaymentRefunded',
      'OrderUnpacked',
      'HarvestReturnedToStock',
      'OrderCancelled',
    ]) {
      expect(events.filter((e) => e === type)).toHaveLength(1);
    }
    expect(await rowsOf(h, 'refunds', orderId)).toHaveLength(1);
    await expectUndone(orderId, before, true);
  });
});

import { harvestCompletedSignal, harvestTaskId } from '../../src/workflows/definitions';
import { CUSTOMER_ID, ORDER_STATUS, ORDER_STEP } from '../../src/workflows/search-attributes';
import { createWorkflowHarness, waitForStatus, type WorkflowHarness } from '../support/workflow-harness';

describe('orderFulfillment happy path', () => {
  let h: WorkflowHarness;
  beforeAll(async () => {
    h = await createWorkflowHarness();
  }, 120_000);
  afterAll(() => h?.teardown());

  it('when the crew reports a full harvest, then the order is charged once, shipped, notified and COMPLETED', async () => {
    const input = h.order();
    const { orderId } = input;
    const result = await h.run(input, async (handle) => {
      const waiting = await waitForStatus(handle, (v) => v.status === 'AWAITING_HARVEST');
      expect(waiting.harvest?.taskId).toBe(harvestTaskId(orderId));
      // Written when the order came to rest at the harvest wait.
      const parked = (await handle.describe()).typedSearchAttributes;
      expect([parked.get(ORDER_STATUS), parked.get(ORDER_STEP)]).toEqual(['AWAITING_HARVEST', 'harvest']);
      await handle.signal(harvestCompletedSignal, {
        taskId: harvestTaskId(orderId),
        yields: input.lines.map((l) => ({ sku: l.sku, quantity: l.quantity })),
        reportedBy: 'crew:test',
      });
      const result = await handle.result();
      // Operators filter by these in the Web UI and the CLI.
      const { typedSearchAttributes } = await handle.describe();
      expect(typedSearchAttributes.get(ORDER_STATUS)).toBe('COMPLETED');
      expect(typedSearchAttributes.get(ORDER_STEP)).toBe('done');
      expect(typedSearchAttributes.get(CUSTOMER_ID)).toBe('cust-demo');
      return result;
    });

    expect(result).toMatchObject({ orderId, status: 'COMPLETED', chargedCents: 2 * 650 + 250, carrier: 'primary' });
    expect(result.trackingNumber).toMatch(/^PRI/);

    const [order] = await h.db.query('select status, step, charged_cents from orders where id = $1', [orderId]);
    expect(order).toEqual({ status: 'COMPLETED', step: 'done', charged_cents: 1550 });
    const events = await h.db.query<{ event_type: string; version: number }>(
      'select event_type, version from order_events where order_id = $1 order by version',
      [orderId],
    );
    expect(events.map((e) => e.event_type)).toEqual([
      'OrderReceived',
      'InventoryReserved',
      'HarvestScheduled',
      'HarvestCompleted',
      'OrderPacked',
      'PaymentCaptured',
      'CarrierBooked',
      'ParcelPickedUp',
      'CustomerNotified',
      'OrderCompleted',
    ]);
    expect(events.map((e) => e.version)).toEqual(events.map((_, i) => i + 1));
    const reservations = await h.db.query('select status from reservations where order_id = $1', [orderId]);
    expect(reservations.every((r) => r.status === 'CONSUMED')).toBe(true);

    // The provider's own records: exactly one charge, one label (picked up), one message.
    const charges = await h.admin.listPaymentIntents(orderId);
    expect(charges).toHaveLength(1);
    expect(charges[0]).toMatchObject({ amount: 1550, status: 'succeeded' });
    const labels = await h.admin.listShipments('primary', orderId);
    expect(labels).toHaveLength(1);
    expect(labels[0]?.status).toBe('PICKED_UP');
    // The confirmation as the customer receives it: the HTML receipt (the one GET /orders/:id/receipt serves) as body.
    const messages = await h.admin.listMessages(orderId);
    expect(messages).toEqual([
      expect.objectContaining({
        kind: 'confirmation',
        messageId: `<${orderId}.confirmation@harvest-to-door.example>`,
        envelopeTo: ['dana@example.com'],
        subject: expect.stringMatching(/on its way/),
        text: expect.stringContaining('Charged: 15.50 USD'),
        html: expect.stringContaining(`<title>Receipt for order ${orderId}</title>`),
      }),
    ]);
    expect(messages[0]?.html).toContain(`<td class="n" id="charged">$15.50</td>`);
    expect(messages[0]?.html).toContain(labels[0]!.trackingCode!);
  });

  it('when an order completes, then only the provider calls are activity tasks, the database steps are local activities and the search attributes are written once per rest', async () => {
    const input = h.order();
    const events = await h.run(input, async (handle) => {
      await waitForStatus(handle, (v) => v.status === 'AWAITING_HARVEST');
      await handle.signal(harvestCompletedSignal, {
        taskId: harvestTaskId(input.orderId),
        yields: input.lines.map((l) => ({ sku: l.sku, quantity: l.quantity })),
        reportedBy: 'crew:test',
      });
      await handle.result();
      return (await handle.fetchHistory()).events ?? [];
    });

    const scheduled = events.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
    expect(scheduled).toEqual(['chargeOrder', 'bookCarrier', 'confirmPickup', 'notifyCustomer']);
    const local = events
      .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')
      .map((e) => {
        const data = e.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data;
        return (JSON.parse(Buffer.from(data ?? []).toString('utf8')) as { activity_type: string }).activity_type;
      });
    expect(local).toEqual([
      'recordOrder',
      'reserveInventory',
      'createHarvestTask',
      'recordHarvest',
      'packOrder',
      'markOrder',
    ]);
    // The API set CustomerId, OrderStatus and OrderStep at the start; then one write per rest: the harvest wait, the
    // charge, the carrier, the notification and the end.
    // (The SDK adds one more upsert of its own, TemporalChangeVersion, for the workflow's patch marker.)
    const upserts = events.filter(
      (e) => e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.[ORDER_STATUS.name],
    );
    expect(upserts).toHaveLength(5);
  });

  it('when a run is started without search attributes (as from the CLI), then the workflow sets them itself', async () => {
    const input = h.order();
    const attributes = await h.run(
      input,
      async (handle) => {
        await waitForStatus(handle, (v) => v.status === 'AWAITING_HARVEST');
        const { typedSearchAttributes } = await handle.describe();
        return [ORDER_STATUS, ORDER_STEP, CUSTOMER_ID].map((key) => typedSearchAttributes.get(key));
      },
      { bareStart: true },
    );
    expect(attributes).toEqual(['AWAITING_HARVEST', 'harvest', 'cust-demo']);
  });
});

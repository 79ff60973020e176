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
    const charges = await h.admin.listCharges(orderId);
    expect(charges).toHaveLength(1);
    expect(charges[0]).toMatchObject({ amountCents: 1550, status: 'succeeded' });
    const labels = await h.admin.listLabels('primary', orderId);
    expect(labels).toHaveLength(1);
    expect(labels[0]?.status).toBe('PICKED_UP');
    expect(await h.admin.listNotifications(orderId)).toHaveLength(1);
  });
});

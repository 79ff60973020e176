import { placeOrder } from '../../src/lib/order-start';
import { harvestWindowMs, statusQuery } from '../../src/workflows/definitions';
import { eventTypes, orderRow, reportHarvest, rowsOf, stock, workflowFailure } from '../support/scenarios';
import { createWorkflowHarness, waitForStatus, type WorkflowHarness } from '../support/workflow-harness';

describe('orderFulfillment: inventory and harvest failures', () => {
  let h: WorkflowHarness;
  beforeAll(async () => {
    h = await createWorkflowHarness();
  }, 120_000);
  afterAll(() => h?.teardown());

  it('when a line asks for more than is available, then placeOrder refuses at once naming the short SKU, the run fails with OutOfStock, is CANCELLED and nothing moves', async () => {
    const before = await stock(h);
    const tooMany = before['TOM-HEIRLOOM']!.available + 1;
    const input = h.order({
      lines: [
        { sku: 'LET-BUTTER', quantity: 1 },
        { sku: 'TOM-HEIRLOOM', quantity: tooMany },
      ],
    });
    const { orderId } = input;

    const { answer, failure, activity, root, view } = await h.place(input, async (handle, answer) => {
      const outcome = await workflowFailure(handle.result());
      return { answer, ...outcome, view: await handle.query(statusQuery) };
    });

    // The caller learns it from the answer to the start itself, with every short line and what there is of it.
    expect(answer.kind).toBe('refused');
    const refusal = answer.kind === 'refused' ? answer.failure : undefined;
    expect(refusal?.type).toBe('OutOfStock');
    expect(refusal?.details?.[0]).toEqual({
      shortages: [{ sku: 'TOM-HEIRLOOM', requested: tooMany, available: before['TOM-HEIRLOOM']!.available }],
    });
    expect(failure.type).toBe('OutOfStock');
    expect(failure.message).toMatch(/out of stock: TOM-HEIRLOOM/i);
    // reserveInventory is a local activity: its failure reaches the workflow as it was thrown, with no ActivityFailure
    // around it; the step it failed at is in the status view.
    expect(activity).toBeUndefined();
    expect(root?.type).toBe('OutOfStock');
    expect(root?.nonRetryable).toBe(true);
    expect(view).toMatchObject({ status: 'CANCELLED', step: 'reserve-inventory' });
    expect(view.reason).toMatch(/out of stock: TOM-HEIRLOOM \(ordered \d+, available \d+\)/i);
    expect(view.compensations).toEqual([expect.objectContaining({ name: 'release-reservation', state: 'completed' })]);

    expect(await orderRow(h, orderId)).toMatchObject({ status: 'CANCELLED', charged_cents: null });
    expect((await orderRow(h, orderId))?.outcome_reason).toMatch(/out of stock/i);
    // All or nothing: the lettuce line (reserved first, sku order) was rolled back with the failed tomato line.
    expect(await stock(h)).toEqual(before);
    expect(await rowsOf(h, 'reservations', orderId)).toEqual([]);
    expect(await rowsOf(h, 'harvest_tasks', orderId)).toEqual([]);
    expect(await rowsOf(h, 'payments', orderId)).toEqual([]);
    // The refusal is recorded, so a repeated request gets the same answer after the run ended; no e-mail: the
    // customer was told in the answer.
    expect(await eventTypes(h, orderId)).toEqual(['OrderReceived', 'CompensationStarted', 'OrderCancelled']);
    const [closed] = await h.db.query<{ data: { refusal?: { type: string } } }>(
      'select data from order_events where event_id = $1',
      [`${orderId}:closed`],
    );
    expect(closed?.data.refusal).toMatchObject({ type: 'OutOfStock' });
    expect(await h.admin.listPaymentIntents(orderId)).toEqual([]);
    expect(await h.admin.listMessages(orderId)).toEqual([]);
  });

  it('when stock is there, then placeOrder answers with the reserved lines and the harvest task, and a repeat gets the same answer', async () => {
    const input = h.order();
    const { first, again } = await h.place(input, async (handle, first) => {
      // A repeat joins the running order (a new start would land on a queue nobody polls and come back pending).
      const again = await placeOrder(h.env.client, input, { taskQueue: 'nobody-polls-this', timeoutMs: 30_000 });
      await handle.terminate('test done');
      return { first, again };
    });
    expect(first).toEqual({
      kind: 'accepted',
      acceptance: {
        orderId: input.orderId,
        lines: [
          { sku: 'LET-BUTTER', quantity: 1, unitPriceCents: expect.any(Number) },
          { sku: 'TOM-HEIRLOOM', quantity: 2, unitPriceCents: expect.any(Number) },
        ],
        harvestTask: { taskId: `hv-${input.orderId}`, dueBy: expect.any(String) },
        replayed: false,
      },
    });
    expect(again).toEqual(
      first.kind === 'accepted' ? { kind: 'accepted', acceptance: { ...first.acceptance, replayed: true } } : undefined,
    );
  });

  it('when the crew never reports within the window derived from the products, then HarvestTimedOut releases stock, cancels the task and notifies', async () => {
    const before = await stock(h);
    const input = h.order();
    const { orderId } = input;
    const products = await h.db.query<{ harvest_lead_days: number; shelf_life_days: number }>(
      'select harvest_lead_days, shelf_life_days from products where sku = any($1)',
      [input.lines.map((l) => l.sku)],
    );
    const windowMs = harvestWindowMs(
      products.map((p) => ({ harvestLeadDays: p.harvest_lead_days, shelfLifeDays: p.shelf_life_days })),
    );
    expect(windowMs).toBe(7 * 24 * 3600 * 1000); // tomatoes: 2 days lead; lettuce: 5 days shelf life

    const { failure, activity, view, waiting, reservedDuringWait } = await h.run(input, async (handle) => {
      const waiting = await waitForStatus(handle, (v) => v.status === 'AWAITING_HARVEST');
      const reservedDuringWait = await stock(h);
      // Never signal: awaiting the result lets the test server skip the days of waiting.
      const outcome = await workflowFailure(handle.result());
      return { ...outcome, waiting, reservedDuringWait, view: await handle.query(statusQuery) };
    });

    expect(reservedDuringWait['TOM-HEIRLOOM']).toEqual({
      available: before['TOM-HEIRLOOM']!.available - 2,
      reserved: before['TOM-HEIRLOOM']!.reserved + 2,
    });
    expect(failure.type).toBe('HarvestTimedOut');
    expect(activity).toBeUndefined(); // the workflow's own timer, not an activity, gave up
    expect(view.reason).toMatch(/did not report harvest task hv-/i);
    expect(view.status).toBe('CANCELLED');
    expect(view.compensations.map((c) => [c.name, c.state])).toEqual([
      ['cancel-harvest', 'completed'],
      ['release-reservation', 'completed'],
    ]);
    // The wait lasted the whole window (in workflow time), and not a second less.
    const dueBy = Date.parse(waiting.harvest!.dueBy);
    const started = Date.parse(waiting.timeline.find((t) => t.step === 'harvest' && t.state === 'started')!.at);
    const gaveUp = Date.parse(view.timeline.find((t) => t.step === 'harvest' && t.state === 'failed')!.at);
    expect(dueBy - started).toBeGreaterThanOrEqual(windowMs);
    expect(dueBy - started).toBeLessThan(windowMs + 60_000);
    expect(gaveUp).toBeGreaterThanOrEqual(dueBy - 60_000);

    expect(await orderRow(h, orderId)).toMatchObject({ status: 'CANCELLED' });
    expect(await stock(h)).toEqual(before);
    expect((await rowsOf(h, 'reservations', orderId, 'status')).map((r) => r.status)).toEqual(['RELEASED', 'RELEASED']);
    const [task] = await rowsOf(h, 'harvest_tasks', orderId, 'id, status');
    expect(task).toEqual({ id: `hv-${orderId}`, status: 'CANCELLED' });
    expect(await rowsOf(h, 'notifications', orderId, 'kind, status')).toEqual([
      { kind: 'cancellation', status: 'SENT' },
    ]);
    expect(await eventTypes(h, orderId)).toEqual([
      'OrderReceived',
      'InventoryReserved',
      'HarvestScheduled',
      'CompensationStarted',
      'HarvestCancelled',
      'ReservationReleased',
      'CustomerNotified',
      'OrderCancelled',
    ]);
    expect(await h.admin.listPaymentIntents(orderId)).toEqual([]);
    const messages = await h.admin.listMessages(orderId);
    expect(messages.map((m) => m.subject)).toEqual([expect.stringMatching(/cancelled/i)]);
    expect(messages[0]?.text).toMatch(/did not report harvest task/i);
  });

  it('when the yield is short and partial fulfilment is accepted, then the order COMPLETES charging only what was harvested', async () => {
    const before = await stock(h);
    const input = h.order({
      acceptPartial: true,
      lines: [
        { sku: 'TOM-HEIRLOOM', quantity: 4 },
        { sku: 'LET-BUTTER', quantity: 2 },
      ],
    });
    const { orderId } = input;
    const yields = [
      { sku: 'TOM-HEIRLOOM', quantity: 3 },
      { sku: 'LET-BUTTER', quantity: 0 },
    ];

    const { result, view } = await h.run(input, async (handle) => {
      await reportHarvest(handle, input, yields);
      const result = await handle.result();
      return { result, view: await handle.query(statusQuery) };
    });

    const charged = 3 * 650;
    expect(result).toMatchObject({ orderId, status: 'COMPLETED', chargedCents: charged, carrier: 'primary' });
    expect(view.harvest?.yields).toEqual(yields.slice().sort((a, b) => a.sku.localeCompare(b.sku)));
    expect(view.timeline.find((t) => t.step === 'harvest' && t.state === 'completed')?.detail).toMatch(
      /partial yield accepted for .*LET-BUTTER.*TOM-HEIRLOOM/,
    );
    expect(view.payment?.amountCents).toBe(charged);

    expect(await orderRow(h, orderId)).toMatchObject({ status: 'COMPLETED', charged_cents: charged });
    const lines = await h.db.query(
      'select sku, quantity, harvested_quantity from order_lines where order_id = $1 order by sku',
      [orderId],
    );
    expect(lines).toEqual([
      { sku: 'LET-BUTTER', quantity: 2, harvested_quantity: 0 },
      { sku: 'TOM-HEIRLOOM', quantity: 4, harvested_quantity: 3 },
    ]);
    // The shortfall never existed as stock: the reservation is consumed whole, nothing goes back.
    const after = await stock(h);
    expect(after['TOM-HEIRLOOM']).toEqual({
      available: before['TOM-HEIRLOOM']!.available - 4,
      reserved: before['TOM-HEIRLOOM']!.reserved,
    });
    expect(after['LET-BUTTER']).toEqual({
      available: before['LET-BUTTER']!.available - 2,
      reserved: before['LET-BUTTER']!.reserved,
    });
    expect((await rowsOf(h, 'reservations', orderId, 'status')).map((r) => r.status)).toEqual(['CONSUMED', 'CONSUMED']);
    const [pkg] = await rowsOf(h, 'packages', orderId, 'status, contents, weight_grams');
    expect(pkg).toEqual({ status: 'PACKED', contents: [{ sku: 'TOM-HEIRLOOM', quantity: 3 }], weight_grams: 1500 });
    expect(await rowsOf(h, 'payments', orderId, 'status, amount_cents')).toEqual([
      { status: 'SUCCEEDED', amount_cents: charged },
    ]);

    const charges = await h.admin.listPaymentIntents(orderId);
    expect(charges).toEqual([expect.objectContaining({ amount: charged, status: 'succeeded' })]);
    expect(await h.admin.listRefunds(orderId)).toEqual([]);
    const [message] = await h.admin.listMessages(orderId);
    expect(message?.text).toMatch(/Heirloom tomatoes: 3\/4/);
  });

  it('when the yield is short and partial fulfilment is refused, then PartialYieldRefused returns the harvest to stock and charges nothing', async () => {
    const before = await stock(h);
    const input = h.order({ acceptPartial: false });
    const { orderId } = input;
    const yields = [
      { sku: 'TOM-HEIRLOOM', quantity: 1 },
      { sku: 'LET-BUTTER', quantity: 1 },
    ];

    const { failure, activity, view } = await h.run(input, async (handle) => {
      await reportHarvest(handle, input, yields);
      const outcome = await workflowFailure(handle.result());
      return { ...outcome, view: await handle.query(statusQuery) };
    });

    expect(failure.type).toBe('PartialYieldRefused');
    expect(activity).toBeUndefined();
    expect(view.status).toBe('CANCELLED');
    expect(view.reason).toMatch(/harvest came up short for TOM-HEIRLOOM.*does not accept partial/i);
    expect(view.compensations.map((c) => [c.name, c.state])).toEqual([
      ['cancel-harvest', 'completed'],
      ['release-reservation', 'completed'],
    ]);

    expect(await orderRow(h, orderId)).toMatchObject({ status: 'CANCELLED', charged_cents: null });
    // The produce that was picked goes back on the shelf; the tomato that never grew does not.
    const after = await stock(h);
    expect(after['TOM-HEIRLOOM']).toEqual({
      available: before['TOM-HEIRLOOM']!.available - 2 + 1,
      reserved: before['TOM-HEIRLOOM']!.reserved,
    });
    expect(after['LET-BUTTER']).toEqual(before['LET-BUTTER']);
    const [task] = await rowsOf(h, 'harvest_tasks', orderId, 'status');
    expect(task?.status).toBe('RETURNED');
    expect(await rowsOf(h, 'packages', orderId)).toEqual([]);
    expect(await rowsOf(h, 'payments', orderId)).toEqual([]);
    expect(await eventTypes(h, orderId)).toEqual([
      'OrderReceived',
      'InventoryReserved',
      'HarvestScheduled',
      'HarvestCompleted',
      'CompensationStarted',
      'HarvestReturnedToStock',
      'CustomerNotified',
      'OrderCancelled',
    ]);
    expect(await h.admin.listPaymentIntents(orderId)).toEqual([]);
    expect((await h.admin.listMessages(orderId)).map((m) => m.subject)).toEqual([expect.stringMatching(/cancelled/i)]);
  });
});

import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, type Activities } from '../../src/activities';
import { seed } from '../../src/db/seed';
import { ProviderUnavailableError } from '../../src/providers/errors';
import { SandboxAdmin } from '../../src/providers/sandbox-admin';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server';
import { idempotencyKeys, type OrderInput } from '../../src/workflows/definitions';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { demoOrder, progressAt } from '../support/orders';
import { sandboxProviders } from '../support/providers';

/**
 * What the chaos suite (npm run chaos) found, pinned at the activity level: provider effects whose every answer was
 * lost, and reset runs replaying finished orders. Real PostgreSQL, real sandbox over HTTP, real activities.
 */
describe('activities: effects whose answers were lost, and finished orders replayed', () => {
  let db: TestDatabase;
  let sandbox: RunningSandbox;
  let admin: SandboxAdmin;
  let acts: Activities;

  beforeAll(async () => {
    db = await createTestDatabase();
    await seed(db.db);
    sandbox = await startSandbox({ databaseUrl: db.url, host: '127.0.0.1', port: 0 });
    admin = new SandboxAdmin(sandbox.url);
    // 1 s: far below the 3 s hangs that lose answers, yet loose enough that a loaded CI machine's ordinary
    // requests never time out.
    acts = createActivities({ db: db.db, providers: sandboxProviders(sandbox, 1_000) });
  }, 120_000);
  afterAll(async () => {
    await sandbox?.close();
    await db?.drop();
  });
  afterEach(() => admin.clearFaults());

  function run<K extends keyof Activities>(
    name: K,
    args: Parameters<Activities[K]>[0],
    attempt = 1,
  ): ReturnType<Activities[K]> {
    const fn = acts[name] as (a: typeof args) => ReturnType<Activities[K]>;
    return new MockActivityEnvironment({ attempt }).run(fn, args) as ReturnType<Activities[K]>;
  }

  function input(lines = [{ sku: 'KAL-LACINATO', quantity: 2 }]): OrderInput {
    return demoOrder('la', { lines });
  }

  async function packedOrder(): Promise<OrderInput> {
    const order = input();
    const { orderId } = order;
    await run('recordOrder', { order, progress: progressAt('received') });
    await run('reserveInventory', { orderId, progress: progressAt('reserve-inventory') });
    await run('createHarvestTask', {
      orderId,
      dueBy: new Date(Date.now() + 86_400_000).toISOString(),
      progress: progressAt('harvest', 'AWAITING_HARVEST'),
    });
    await run('recordHarvest', { orderId, yields: order.lines, progress: progressAt('harvest') });
    await run('packOrder', { orderId, progress: progressAt('pack') });
    return order;
  }

  const stock = () => db.query('select sku, available, reserved from products order by sku');

  it('when a primary booking lost its answer and the order falls back to the backup (or a later round), then the label the primary holds is adopted, not doubled', async () => {
    const { orderId } = await packedOrder();
    await run('chargeOrder', { orderId, progress: progressAt('charge') });
    await admin.setFaults({ primary: { timeoutNext: 1, hangMs: 3_000 } });
    await expect(
      run('bookCarrier', { orderId, carrier: 'primary', round: 0, progress: progressAt('book-carrier') }),
    ).rejects.toBeInstanceOf(ProviderUnavailableError);
    const [primaryLabel] = await admin.listShipments('primary', orderId);
    expect(primaryLabel).toMatchObject({ status: 'PURCHASED' });

    const shipment = await run('bookCarrier', {
      orderId,
      carrier: 'backup',
      round: 0,
      progress: progressAt('book-carrier'),
    });
    const nextRound = await run('bookCarrier', {
      orderId,
      carrier: 'primary',
      round: 1,
      progress: progressAt('book-carrier'),
    });

    const expected = {
      carrier: 'primary',
      labelId: primaryLabel!.id,
      trackingNumber: primaryLabel!.trackingCode,
      pickupDate: primaryLabel!.labelDate,
      pickedUp: false,
    };
    expect(shipment).toEqual(expected);
    expect(nextRound).toEqual(expected);
    expect(await admin.listShipments('backup', orderId)).toEqual([]);
    expect(
      await db.query('select outcome from shipment_attempts where order_id = $1 order by created_at', [orderId]),
    ).toEqual([{ outcome: 'failed' }, { outcome: 'adopted primary label' }]);
    await run('confirmPickup', { orderId });
    expect(await admin.listShipments('primary', orderId)).toEqual([expect.objectContaining({ status: 'PICKED_UP' })]);
  });

  it('when the pickup took effect but its answer was lost and the carrier then goes down, then confirmPickup still records the hand-over', async () => {
    const { orderId } = await packedOrder();
    await run('chargeOrder', { orderId, progress: progressAt('charge') });
    await run('bookCarrier', { orderId, carrier: 'primary', round: 0, progress: progressAt('book-carrier') });
    // The hand-over is two requests (create the Pickup, buy it); both take effect and both answers are lost.
    await admin.setFaults({ primary: { timeoutNext: 2, hangMs: 3_000 } });

    await expect(run('confirmPickup', { orderId })).rejects.toBeInstanceOf(ProviderUnavailableError);
    expect(await admin.listShipments('primary', orderId)).toEqual([expect.objectContaining({ status: 'PURCHASED' })]);
    // The retry finds the Pickup by its reference, buys it, loses that answer too, and reads the collection from the
    // carrier's tracker instead.
    const { pickedUpAt } = await run('confirmPickup', { orderId }, 2);

    const [label] = await admin.listShipments('primary', orderId);
    expect(label).toMatchObject({ status: 'PICKED_UP', pickedUpAt });
    expect(await db.query('select status from shipments where order_id = $1', [orderId])).toEqual([
      { status: 'PICKED_UP' },
    ]);
    expect(await db.query('select count(*)::int as n from sandbox.easypost_pickups')).not.toEqual([{ n: 0 }]);
    // Recorded: a retry or a reset run does not ask the carrier again, so its outage changes nothing.
    await admin.setFaults({ primary: { outage: true } });
    expect(await run('confirmPickup', { orderId }, 3)).toEqual({ pickedUpAt });
  });

  it('when the carrier is down before the pickup happened, then confirmPickup fails (and is retried) rather than pretend', async () => {
    const { orderId } = await packedOrder();
    await run('chargeOrder', { orderId, progress: progressAt('charge') });
    await run('bookCarrier', { orderId, carrier: 'primary', round: 0, progress: progressAt('book-carrier') });
    await admin.setFaults({ primary: { outage: true } });

    await expect(run('confirmPickup', { orderId })).rejects.toBeInstanceOf(ProviderUnavailableError);
    expect(await admin.listShipments('primary', orderId)).toEqual([expect.objectContaining({ status: 'PURCHASED' })]);
  });

  it('when a booking lost its answer and the order is cancelled, then voidLabel voids the label the carrier holds', async () => {
    const { orderId } = await packedOrder();
    await admin.setFaults({ primary: { timeoutNext: 1, hangMs: 3_000 } });
    await expect(
      run('bookCarrier', { orderId, carrier: 'primary', round: 0, progress: progressAt('book-carrier') }),
    ).rejects.toBeInstanceOf(ProviderUnavailableError);
    expect(await db.query('select * from shipments where order_id = $1', [orderId])).toEqual([]);

    expect(await run('voidLabel', { orderId })).toEqual({ voided: 1 });
    expect(await run('voidLabel', { orderId })).toEqual({ voided: 0 });

    expect(await admin.listShipments('primary', orderId)).toEqual([expect.objectContaining({ status: 'VOIDED' })]);
    expect(await db.query('select carrier, status from shipments where order_id = $1', [orderId])).toEqual([
      { carrier: 'primary', status: 'VOIDED' },
    ]);
  });

  it('when a charge succeeded at the gateway but its answer was lost, then refundOrder finds it there and refunds it once', async () => {
    const { orderId } = await packedOrder();
    await admin.setFaults({ payments: { timeoutNext: 1, hangMs: 3_000 } });
    await expect(run('chargeOrder', { orderId, progress: progressAt('charge') })).rejects.toBeInstanceOf(
      ProviderUnavailableError,
    );
    expect(await db.query('select * from payments where order_id = $1', [orderId])).toEqual([]);
    const [charge] = await admin.listPaymentIntents(orderId);

    expect(await run('refundOrder', { orderId })).toEqual({ refundedCents: charge!.amount });
    expect(await run('refundOrder', { orderId })).toEqual({ refundedCents: charge!.amount });

    expect(await admin.listRefunds(orderId)).toEqual([
      expect.objectContaining({
        paymentIntentId: charge!.id,
        amount: charge!.amount,
        idempotencyKey: idempotencyKeys.refund(orderId),
      }),
    ]);
    expect(await db.query('select status, charged_cents, refunded_cents from orders where id = $1', [orderId])).toEqual(
      [{ status: 'RUNNING', charged_cents: charge!.amount, refunded_cents: charge!.amount }],
    );
  });

  it('when a declined order is replayed after its produce went back to stock, then recordHarvest refuses and stock comes back only once', async () => {
    const before = await stock();
    const order = await packedOrder();
    const { orderId, lines } = order;
    await run('unpackOrder', { orderId });
    await run('cancelHarvest', { orderId });
    await run('releaseReservation', { orderId });
    await run('markOrder', {
      orderId,
      progress: progressAt('pack', 'CANCELLED'),
      event: { key: 'closed', type: 'OrderCancelled' },
    });
    expect(await stock()).toEqual(before);

    // The reset run: the harvest signal is re-applied, the steps run again.
    await run('recordOrder', { order, progress: progressAt('received') });
    await run('reserveInventory', { orderId, progress: progressAt('reserve-inventory') });
    await expect(
      run('recordHarvest', { orderId, yields: lines, progress: progressAt('harvest') }),
    ).rejects.toMatchObject({
      type: 'HarvestClosed',
      nonRetryable: true,
    });
    await run('unpackOrder', { orderId });
    await run('cancelHarvest', { orderId });
    await run('releaseReservation', { orderId });

    expect(await stock()).toEqual(before);
  });

  it('when an order that never reserved is replayed after it finished, then reserveInventory refuses instead of taking stock', async () => {
    const before = await stock();
    const order = input([{ sku: 'STR-ALBION', quantity: 1_000_000 }]);
    await run('recordOrder', { order, progress: progressAt('received') });
    await expect(
      run('reserveInventory', { orderId: order.orderId, progress: progressAt('reserve-inventory') }),
    ).rejects.toMatchObject({ type: 'OutOfStock' });
    await run('markOrder', {
      orderId: order.orderId,
      progress: progressAt('reserve-inventory', 'CANCELLED'),
      event: { key: 'closed', type: 'OrderCancelled' },
    });

    await expect(
      run('reserveInventory', { orderId: order.orderId, progress: progressAt('reserve-inventory') }),
    ).rejects.toMatchObject({
      type: 'OrderClosed',
      nonRetryable: true,
    });
    expect(await stock()).toEqual(before);
    expect(await db.query('select * from reservations where order_id = $1', [order.orderId])).toEqual([]);
  });
});

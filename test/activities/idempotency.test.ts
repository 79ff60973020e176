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
 * Reset safety at the activity level: a reset from the Web UI or the CLI replays a run from an earlier point, so
 * activities that already took effect run again for the same order. Every provider effect is keyed by the order,
 * so the second run must find the first effect instead of repeating it - also when the first run's answer was lost.
 * Real PostgreSQL, real sandbox over HTTP, real activities.
 */
describe('activities: reset safety (same order, second run)', () => {
  let db: TestDatabase;
  let sandbox: RunningSandbox;
  let admin: SandboxAdmin;
  let acts: Activities;

  beforeAll(async () => {
    db = await createTestDatabase();
    await seed(db.db);
    sandbox = await startSandbox({ databaseUrl: db.url, host: '127.0.0.1', port: 0 });
    admin = new SandboxAdmin(sandbox.url);
    // A short client budget, so a hanging provider counts as a lost response quickly.
    acts = createActivities({ db: db.db, providers: sandboxProviders(sandbox, 300) });
  }, 120_000);
  afterAll(async () => {
    await sandbox?.close();
    await db?.drop();
  });
  afterEach(() => admin.clearFaults());

  /** Run an activity as Temporal would (with an activity context), as attempt `attempt`. */
  function run<K extends keyof Activities>(
    name: K,
    args: Parameters<Activities[K]>[0],
    attempt = 1,
  ): ReturnType<Activities[K]> {
    const fn = acts[name] as (a: typeof args) => ReturnType<Activities[K]>;
    return new MockActivityEnvironment({ attempt }).run(fn, args) as ReturnType<Activities[K]>;
  }

  /** An order recorded, reserved, harvested in full and packed: ready to be charged. */
  async function packedOrder(): Promise<OrderInput> {
    const input = demoOrder('a');
    const { orderId } = input;
    await run('recordOrder', { order: input, progress: progressAt('received') });
    await run('reserveInventory', { orderId, progress: progressAt('reserve-inventory') });
    await run('createHarvestTask', {
      orderId,
      dueBy: new Date(Date.now() + 86_400_000).toISOString(),
      progress: progressAt('harvest', 'AWAITING_HARVEST'),
    });
    await run('recordHarvest', { orderId, yields: input.lines, progress: progressAt('harvest') });
    await run('packOrder', { orderId, progress: progressAt('pack') });
    return input;
  }

  const count = async (table: string, orderId: string) =>
    Number((await db.query<{ n: string }>(`select count(*) as n from ${table} where order_id = $1`, [orderId]))[0]?.n);
  const events = async (orderId: string, type: string) =>
    Number(
      (
        await db.query<{ n: string }>(
          'select count(*) as n from order_events where order_id = $1 and event_type = $2',
          [orderId, type],
        )
      )[0]?.n,
    );

  it('when chargeOrder runs twice for the same order, then the gateway holds one charge and Postgres one payment', async () => {
    const { orderId } = await packedOrder();

    const first = await run('chargeOrder', { orderId, progress: progressAt('charge') });
    const second = await run('chargeOrder', { orderId, progress: progressAt('charge') });

    expect(second).toEqual(first);
    expect(first).toMatchObject({ amountCents: 1550, currency: 'USD' });
    const charges = await admin.listPaymentIntents(orderId);
    expect(charges).toEqual([
      expect.objectContaining({
        id: first.chargeId,
        status: 'succeeded',
        idempotencyKey: idempotencyKeys.charge(orderId),
      }),
    ]);
    expect(await count('payments', orderId)).toBe(1);
    expect(await events(orderId, 'PaymentCaptured')).toBe(1);
  });

  it('when the first charge took effect but its answer was lost, then running chargeOrder again returns that same charge', async () => {
    const { orderId } = await packedOrder();
    await admin.setFaults({ payments: { timeoutNext: 1, hangMs: 3_000 } });

    await expect(run('chargeOrder', { orderId, progress: progressAt('charge') })).rejects.toBeInstanceOf(
      ProviderUnavailableError,
    );
    expect(await count('payments', orderId)).toBe(0); // Postgres never heard of it...
    expect(await admin.listPaymentIntents(orderId)).toHaveLength(1); // ...but the gateway charged

    const again = await run('chargeOrder', { orderId, progress: progressAt('charge') }, 2);
    const charges = await admin.listPaymentIntents(orderId);
    expect(charges).toHaveLength(1);
    expect(again.chargeId).toBe(charges[0]!.id);
    expect(await db.query('select status, provider_charge_id from payments where order_id = $1', [orderId])).toEqual([
      { status: 'SUCCEEDED', provider_charge_id: charges[0]!.id },
    ]);
  });

  it('when bookCarrier runs twice for the same order and round (also after a lost answer), then the carrier holds one label', async () => {
    const { orderId } = await packedOrder();
    await run('chargeOrder', { orderId, progress: progressAt('charge') });

    // A lost answer first: the label exists at the carrier, not yet in Postgres.
    await admin.setFaults({ primary: { timeoutNext: 1, hangMs: 3_000 } });
    await expect(
      run('bookCarrier', { orderId, carrier: 'primary', round: 0, progress: progressAt('book-carrier') }),
    ).rejects.toBeInstanceOf(ProviderUnavailableError);
    const retried = await run(
      'bookCarrier',
      { orderId, carrier: 'primary', round: 0, progress: progressAt('book-carrier') },
      2,
    );
    // Then a reset run books again from the start.
    const reset = await run('bookCarrier', {
      orderId,
      carrier: 'primary',
      round: 0,
      progress: progressAt('book-carrier'),
    });

    expect(reset).toEqual(retried);
    const labels = await admin.listShipments('primary', orderId);
    expect(labels).toEqual([expect.objectContaining({ id: retried.labelId, status: 'PURCHASED' })]);
    expect(await admin.listShipments('backup', orderId)).toEqual([]);
    expect(await db.query('select carrier, label_id, status from shipments where order_id = $1', [orderId])).toEqual([
      { carrier: 'primary', label_id: retried.labelId, status: 'BOOKED' },
    ]);
    expect(await events(orderId, 'CarrierBooked')).toBe(1);

    // Even a reset run that falls over to the backup gets the one active label back, not a second parcel.
    const backup = await run('bookCarrier', {
      orderId,
      carrier: 'backup',
      round: 0,
      progress: progressAt('book-carrier'),
    });
    expect(backup.labelId).toBe(retried.labelId);
    expect(await admin.listShipments('backup', orderId)).toEqual([]);
  });

  it('when notifyCustomer loses its answer and runs again, then the copies carry one Message-ID, and a reset run sends nothing more', async () => {
    const { orderId } = await packedOrder();

    await admin.setFaults({ notifications: { timeoutNext: 1, hangMs: 3_000 } });
    await expect(run('notifyCustomer', { orderId, kind: 'confirmation' })).rejects.toBeInstanceOf(
      ProviderUnavailableError,
    );
    const retried = await run('notifyCustomer', { orderId, kind: 'confirmation' }, 2);
    const reset = await run('notifyCustomer', { orderId, kind: 'confirmation' });

    expect(reset).toEqual(retried);
    // SMTP has no idempotency: the message whose answer was lost arrived, and so did the retry. Both are one message
    // to the receiving side (same Message-ID); the recorded send keeps the reset run from sending a third.
    const messages = await admin.listMessages(orderId, 'confirmation');
    expect(messages).toHaveLength(2);
    expect(new Set(messages.map((m) => m.messageId))).toEqual(new Set([retried.messageId]));
    expect(retried.messageId).toBe(`<${orderId}.confirmation@harvest-to-door.example>`);
    expect(await db.query('select kind, status from notifications where order_id = $1', [orderId])).toEqual([
      { kind: 'confirmation', status: 'SENT' },
    ]);
    expect(await events(orderId, 'CustomerNotified')).toBe(1);
  });

  it('when every compensation runs twice, then money and stock come back exactly once', async () => {
    const before = await db.query('select sku, available, reserved from products order by sku');
    const { orderId } = await packedOrder();
    await run('chargeOrder', { orderId, progress: progressAt('charge') });
    await run('bookCarrier', { orderId, carrier: 'primary', round: 0, progress: progressAt('book-carrier') });

    for (let pass = 0; pass < 2; pass++) {
      await run('voidLabel', { orderId });
      await run('refundOrder', { orderId });
      await run('unpackOrder', { orderId });
      await run('cancelHarvest', { orderId });
      await run('releaseReservation', { orderId });
    }

    expect(await db.query('select sku, available, reserved from products order by sku')).toEqual(before);
    const refunds = await admin.listRefunds(orderId);
    expect(refunds).toEqual([
      expect.objectContaining({ amount: 1550, idempotencyKey: idempotencyKeys.refund(orderId) }),
    ]);
    expect(await count('refunds', orderId)).toBe(1);
    expect(await admin.listShipments('primary', orderId)).toEqual([expect.objectContaining({ status: 'VOIDED' })]);
    for (const type of ['LabelVoided', 'PaymentRefunded', 'OrderUnpacked', 'HarvestReturnedToStock']) {
      expect(await events(orderId, type)).toBe(1);
    }
  });
});

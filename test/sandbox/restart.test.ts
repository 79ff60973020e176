import { ProviderUnavailableError } from '../../src/providers/errors';
import { SandboxAdmin } from '../../src/providers/sandbox-admin';
import { startSandbox, startSandboxFromEnv } from '../../src/sandbox/server';
import { sandboxProviders } from '../support/providers';
import { address, rejectionOf, startHarness, uid, type SandboxHarness } from './harness';

describe('sandbox lifecycle', () => {
  let h: SandboxHarness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.stop());

  it('when the sandbox restarts on the same database, then records survive and keys still replay', async () => {
    const orderId = uid('order');
    const charge = {
      idempotencyKey: uid('c'),
      orderId,
      customerId: 'c',
      amountCents: 990,
      currency: 'EUR',
      paymentMethod: 'pm_card_visa',
    };
    const label = { orderId, weightGrams: 500, address: address() };
    const message = { orderId, kind: 'confirmation' as const, to: 'a@b.c', subject: 's', text: 'b' };
    const before = {
      charge: await h.providers.payments.charge(charge),
      label: await h.providers.carriers.primary.book(label),
      message: await h.providers.notifications.send(message),
    };
    const oldProviders = h.providers;

    await h.restart();
    expect(await rejectionOf(oldProviders.payments.charge(charge))).toBeInstanceOf(ProviderUnavailableError);

    expect(await h.providers.payments.charge(charge)).toEqual(before.charge);
    expect(await h.providers.carriers.primary.book(label)).toEqual(before.label);
    expect(await h.admin.listPaymentIntents(orderId)).toHaveLength(1);
    expect(await h.admin.listShipments('primary', orderId)).toHaveLength(1);
    expect(await h.admin.listMessages(orderId)).toEqual([
      expect.objectContaining({ messageId: before.message.messageId }),
    ]);
    await h.providers.carriers.primary.voidLabel(before.label.labelId);
  });

  it('when two sandboxes start on one fresh database at once, then both create the schema without colliding', async () => {
    const fresh = await startHarness();
    try {
      const [a, b] = await Promise.all([
        startSandbox({ databaseUrl: fresh.db.url, port: 0 }),
        startSandbox({ databaseUrl: fresh.db.url, port: 0 }),
      ]);
      await Promise.all([a.close(), b.close()]);
    } finally {
      await fresh.stop();
    }
  });

  it('when nothing listens, then a call is ProviderUnavailableError naming provider and URL', async () => {
    const sandbox = await startSandbox({ databaseUrl: h.db.url, port: 0 });
    await sandbox.close();
    const providers = sandboxProviders(sandbox, 1_000);
    const mail = await rejectionOf(
      providers.notifications.send({
        orderId: 'o',
        kind: 'confirmation',
        to: 't@example.com',
        subject: 's',
        text: 'b',
      }),
    );
    expect(mail).toBeInstanceOf(ProviderUnavailableError);
    expect((mail as Error).message).toMatch(
      /^notifications unavailable: SMTP smtp:\/\/127\.0\.0\.1:\d+ failed: ESOCKET connect ECONNREFUSED/,
    );
    const payment = await rejectionOf(providers.payments.findCharges('o'));
    expect(payment).toBeInstanceOf(ProviderUnavailableError);
    expect((payment as Error).message).toContain(
      `payments unavailable: GET ${sandbox.url}/v1/payment_intents/search failed`,
    );
    const label = await rejectionOf(providers.carriers.backup.findLabels('o'));
    expect((label as Error).message).toContain(`carrier backup unavailable: GET ${sandbox.url}/v2/shipments/`);
  });

  it('when started from the environment, then it uses SANDBOX_* settings and applies SANDBOX_FAULTS', async () => {
    const sandbox = await startSandboxFromEnv({
      SANDBOX_DATABASE_URL: h.db.url,
      SANDBOX_HOST: '127.0.0.1',
      SANDBOX_PORT: '0',
      SANDBOX_SMTP_PORT: '0',
      SANDBOX_FAULTS: '{"payments":{"failNext":1}}',
    });
    try {
      expect(await new SandboxAdmin(sandbox.url).getFaults()).toMatchObject({ payments: { failNext: 1 } });
      const health: unknown = await fetch(`${sandbox.url}/healthz`).then((r) => r.json());
      expect(health).toEqual({ ok: true });
    } finally {
      await sandbox.close();
    }
  });

  it('when SANDBOX_DATABASE_URL is unset, then starting from the environment fails with a clear error', async () => {
    await expect(startSandboxFromEnv({ SANDBOX_PORT: '0' })).rejects.toThrow(/SANDBOX_DATABASE_URL is not set/);
  });
});

import { ProviderUnavailableError } from '../../src/providers/errors';
import { SandboxAdmin } from '../../src/providers/sandbox-admin';
import type { ChargeRequest } from '../../src/providers/types';
import { FaultInjector, parseFaultsEnv } from '../../src/sandbox/faults';
import { startSandbox } from '../../src/sandbox/server';
import { sandboxProviders } from '../support/providers';
import { rejectionOf, startHarness, uid, type SandboxHarness } from './harness';

describe('sandbox faults', () => {
  let h: SandboxHarness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterEach(() => h.admin.clearFaults());
  afterAll(() => h.stop());

  const chargeRequest = (): ChargeRequest => ({
    idempotencyKey: uid('charge'),
    orderId: uid('order'),
    customerId: 'cus_1',
    amountCents: 4_200,
    currency: 'EUR',
    paymentMethod: 'pm_card_visa',
  });

  it('when failNext is 1, then the first charge is ProviderUnavailableError with nothing recorded, and a retry succeeds', async () => {
    await h.admin.setFaults({ payments: { failNext: 1 } });
    const req = chargeRequest();
    const error = await rejectionOf(h.providers.payments.charge(req));
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect((error as ProviderUnavailableError).message).toMatch(
      /^payments unavailable: POST http.*\/v1\/payment_intents answered 503/,
    );
    expect(await h.admin.listPaymentIntents(req.orderId)).toEqual([]);
    await expect(h.providers.payments.charge(req)).resolves.toMatchObject({ amountCents: 4_200 });
    expect(await h.admin.listPaymentIntents(req.orderId)).toHaveLength(1);
  });

  it('when the response is lost (timeoutNext), then the client times out, and the keyed retry returns the same single charge', async () => {
    await h.admin.setFaults({ payments: { timeoutNext: 1, hangMs: 1_000 } });
    const client = h.clients(200);
    const req = chargeRequest();
    const started = Date.now();
    const error = await rejectionOf(client.payments.charge(req));
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect((error as Error).message).toMatch(/timed out after 200 ms/);
    expect(Date.now() - started).toBeLessThan(900);

    // The side effect committed before the hang: the gateway already holds the charge the client never saw.
    const [charged] = await h.admin.listPaymentIntents(req.orderId);
    expect(charged).toMatchObject({ status: 'succeeded' });
    const retried = await client.payments.charge(req);
    expect(retried.chargeId).toBe(charged?.id);
    expect(await h.admin.listPaymentIntents(req.orderId)).toHaveLength(1);
  });

  it('when faults are read back, then counters show what is left', async () => {
    await h.admin.setFaults({ primary: { failNext: 3, latencyMs: 5 } });
    await h.admin.setFaults({ primary: { refuseNext: 1 } });
    const req = {
      orderId: uid('o'),
      weightGrams: 1,
      address: { name: 'n', line1: 'l', city: 'c', postalCode: '1', country: 'NL' },
    };
    await rejectionOf(h.providers.carriers.primary.book(req));
    expect(await h.admin.getFaults()).toMatchObject({
      seed: 1,
      primary: { failNext: 2, latencyMs: 5, refuseNext: 1 },
      backup: {},
    });
  });

  it('when an error rate is set with a seed, then the same sequence of failures repeats', async () => {
    const providers = h.providers;
    const run = async (): Promise<boolean[]> => {
      await h.admin.setFaults({ seed: 42, notifications: { errorRate: 0.5 } });
      const outcomes: boolean[] = [];
      for (let i = 0; i < 12; i += 1) {
        const sent = providers.notifications.send({
          orderId: uid('order'),
          kind: 'cancellation',
          to: 'ada@example.com',
          subject: 'Cancelled',
          text: 'hi',
        });
        outcomes.push(
          await sent.then(
            () => true,
            () => false,
          ),
        );
      }
      return outcomes;
    };
    const first = await run();
    expect(await run()).toEqual(first);
    expect(first).toContain(true);
    expect(first).toContain(false);
  });

  it('when the fault body has a typo, then PUT /_faults answers 400 and nothing changes', async () => {
    const response = await fetch(`${h.url}/_faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ payments: { failnext: 1 } }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ type: 'invalid_request', detail: expect.stringMatching(/failnext/) });
    expect(await h.admin.getFaults()).toMatchObject({ payments: {} });
  });

  it("when latency is set, then the provider's reads are slowed down too, the operator's records are not", async () => {
    await h.admin.setFaults({ payments: { latencyMs: 150 } });
    const started = Date.now();
    await h.providers.payments.findCharges('any');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    await h.admin.listPaymentIntents('any');
  });

  it('when a request hangs, then closing the sandbox does not wait for it', async () => {
    // A second sandbox on this file's database, so closing it leaves the shared one running.
    const spare = await startSandbox({ databaseUrl: h.db.url, port: 0 });
    await new SandboxAdmin(spare.url).setFaults({ payments: { timeoutNext: 1 } }); // default hang: 30 s
    const client = sandboxProviders(spare);
    const pending = rejectionOf(client.payments.charge(chargeRequest()));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await spare.close();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await pending).toBeInstanceOf(ProviderUnavailableError);
  });
});

describe('FaultInjector', () => {
  it('when the same seed is used twice, then random faults repeat exactly', () => {
    const draw = () => {
      const faults = new FaultInjector({ seed: 7, payments: { errorRate: 0.3 }, primary: { timeoutRate: 0.3 } });
      return Array.from({ length: 50 }, () => [faults.reject('payments'), faults.hangMs('primary')]);
    };
    expect(draw()).toEqual(draw());
  });

  it('when counters are set, then they are consumed in order: outage, failNext, then timeoutNext after commit', () => {
    const faults = new FaultInjector({ backup: { failNext: 1, timeoutNext: 1, hangMs: 50, refuseNext: 1 } });
    expect(faults.reject('backup')).toBe('failNext');
    expect(faults.reject('backup')).toBeUndefined();
    expect(faults.hangMs('backup')).toBe(50);
    expect(faults.hangMs('backup')).toBeUndefined();
    expect(faults.refuse('backup')).toBe(true);
    expect(faults.refuse('backup')).toBe(false);
    faults.update({ backup: { outage: true } });
    expect(faults.reject('backup')).toBe('outage');
    expect(faults.clear()).toEqual({ seed: 1, payments: {}, primary: {}, backup: {}, notifications: {} });
  });

  it('when SANDBOX_FAULTS is set, then it parses like a PUT body and rejects nonsense clearly', () => {
    expect(parseFaultsEnv(undefined)).toBeUndefined();
    expect(parseFaultsEnv(' ')).toBeUndefined();
    expect(parseFaultsEnv('{"seed":3,"primary":{"errorRate":0.2}}')).toEqual({ seed: 3, primary: { errorRate: 0.2 } });
    expect(() => parseFaultsEnv('{oops')).toThrow(/SANDBOX_FAULTS is not valid JSON/);
    expect(() => parseFaultsEnv('{"payments":{"refuseNext":1}}')).toThrow(/payments/);
    expect(() => parseFaultsEnv('{"payments":{"errorRate":2}}')).toThrow(/payments\.errorRate/);
  });
});

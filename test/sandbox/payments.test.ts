import { ApplicationFailure } from '@temporalio/common';
import type { ChargeRequest } from '../../src/providers/types';
import { rejectionOf, startHarness, uid, type SandboxHarness } from './harness';

describe('sandbox payment gateway', () => {
  let h: SandboxHarness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.stop());

  const chargeRequest = (overrides: Partial<ChargeRequest> = {}): ChargeRequest => ({
    idempotencyKey: uid('charge'),
    orderId: uid('order'),
    customerId: 'cus_1',
    amountCents: 2_500,
    currency: 'EUR',
    paymentMethod: 'pm_card_visa',
    ...overrides,
  });

  it('when a valid charge is sent, then it succeeds and the gateway records it', async () => {
    const req = chargeRequest();
    const charge = await h.providers.payments.charge(req);
    expect(charge).toEqual({ chargeId: expect.stringMatching(/^ch_/), amountCents: 2_500, currency: 'EUR' });
    const recorded = await h.admin.listCharges(req.orderId);
    expect(recorded).toEqual([
      expect.objectContaining({
        id: charge.chargeId,
        status: 'succeeded',
        amountCents: 2_500,
        idempotencyKey: req.idempotencyKey,
      }),
    ]);
  });

  it('when the same key is replayed, then the first charge comes back and only one row exists', async () => {
    const req = chargeRequest();
    const first = await h.providers.payments.charge(req);
    const second = await h.providers.payments.charge(req);
    expect(second).toEqual(first);
    expect(await h.admin.listCharges(req.orderId)).toHaveLength(1);
    const rows = await h.db.query('select id from sandbox.charges where order_id = $1', [req.orderId]);
    expect(rows).toEqual([{ id: first.chargeId }]);
  });

  it('when the same key is replayed over raw HTTP, then status and body match and Idempotent-Replayed is set', async () => {
    const body = { orderId: uid('order'), customerId: 'c', amountCents: 100, currency: 'eur', paymentMethod: 'pm_x' };
    const key = uid('raw');
    const post = () =>
      fetch(`${h.url}/payments/charges`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(body),
      });
    const first = await post();
    const second = await post();
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    const firstBody: unknown = await first.json();
    expect(await second.json()).toEqual(firstBody);
    expect(firstBody).toMatchObject({ currency: 'EUR', status: 'succeeded' });
  });

  it('when a charge has no Idempotency-Key, then it is refused with 400 problem details', async () => {
    const response = await fetch(`${h.url}/payments/charges`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ orderId: 'o', customerId: 'c', amountCents: 1, currency: 'EUR', paymentMethod: 'pm' }),
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await response.json()).toMatchObject({ type: 'idempotency_key_missing', status: 400 });
  });

  it('when the amount is not a positive integer, then the gateway rejects it as ProviderRejected', async () => {
    const error = await rejectionOf(h.providers.payments.charge(chargeRequest({ amountCents: 12.5 })));
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect(error).toMatchObject({ type: 'ProviderRejected', nonRetryable: true });
  });

  it('when the same key comes back with a different amount, then IdempotencyKeyReused is thrown, non-retryable', async () => {
    const req = chargeRequest();
    await h.providers.payments.charge(req);
    const error = await rejectionOf(h.providers.payments.charge({ ...req, amountCents: req.amountCents + 1 }));
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect(error).toMatchObject({ type: 'IdempotencyKeyReused', nonRetryable: true });
    expect((error as ApplicationFailure).details?.[0]).toMatchObject({ type: 'idempotency_key_reused', status: 422 });
    expect(await h.admin.listCharges(req.orderId)).toHaveLength(1);
  });

  it('when 20 requests with one key arrive at once, then exactly one charge exists and all see it', async () => {
    const req = chargeRequest();
    const results = await Promise.all(Array.from({ length: 20 }, () => h.providers.payments.charge(req)));
    expect(new Set(results.map((r) => r.chargeId)).size).toBe(1);
    expect(await h.admin.listCharges(req.orderId)).toHaveLength(1);
  });

  it.each([
    ['pm_card_declined', 'card_declined'],
    ['pm_insufficient_funds', 'insufficient_funds'],
  ])(
    'when paying with %s, then PaymentDeclined (%s) is thrown, recorded as declined and replayed',
    async (pm, code) => {
      const req = chargeRequest({ paymentMethod: pm });
      const error = await rejectionOf(h.providers.payments.charge(req));
      expect(error).toBeInstanceOf(ApplicationFailure);
      expect(error).toMatchObject({ type: 'PaymentDeclined', nonRetryable: true });
      const problem = (error as ApplicationFailure).details?.[0];
      expect(problem).toMatchObject({ type: code, status: 402, chargeId: expect.stringMatching(/^ch_/) });

      const again = await rejectionOf(h.providers.payments.charge(req));
      expect((again as ApplicationFailure).details?.[0]).toEqual(problem);
      expect(await h.admin.listCharges(req.orderId)).toEqual([
        expect.objectContaining({ status: 'declined', failureCode: code }),
      ]);
    },
  );

  describe('refunds', () => {
    it('when refunding in parts up to the charge, then each succeeds, and one cent more is RefundRejected', async () => {
      const req = chargeRequest({ amountCents: 1_000 });
      const { chargeId } = await h.providers.payments.charge(req);
      const refund = (amountCents: number, key = uid('refund')) =>
        h.providers.payments.refund({ idempotencyKey: key, orderId: req.orderId, chargeId, amountCents });

      const first = await refund(600);
      expect(first).toEqual({ refundId: expect.stringMatching(/^re_/), amountCents: 600 });
      const error = await rejectionOf(refund(401));
      expect(error).toMatchObject({ type: 'RefundRejected', nonRetryable: true });
      expect((error as ApplicationFailure).details?.[0]).toMatchObject({
        type: 'refund_exceeds_charge',
        refundableCents: 400,
      });
      await refund(400);
      expect(await rejectionOf(refund(1))).toMatchObject({ type: 'RefundRejected' });
      expect((await h.admin.listRefunds(req.orderId)).map((r) => r.amountCents)).toEqual([600, 400]);
    });

    it('when a refund is replayed with its key, then the first refund comes back and nothing more is refunded', async () => {
      const req = chargeRequest({ amountCents: 1_000 });
      const { chargeId } = await h.providers.payments.charge(req);
      const refundReq = { idempotencyKey: uid('refund'), orderId: req.orderId, chargeId, amountCents: 700 };
      const first = await h.providers.payments.refund(refundReq);
      const second = await h.providers.payments.refund(refundReq);
      expect(second).toEqual(first);
      expect(await h.admin.listRefunds(req.orderId)).toHaveLength(1);
    });

    it('when concurrent refunds with different keys together exceed the charge, then only what fits succeeds', async () => {
      const req = chargeRequest({ amountCents: 1_000 });
      const { chargeId } = await h.providers.payments.charge(req);
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, () =>
          h.providers.payments.refund({
            idempotencyKey: uid('refund'),
            orderId: req.orderId,
            chargeId,
            amountCents: 300,
          }),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
      const refunds = await h.admin.listRefunds(req.orderId);
      expect(refunds.reduce((sum, r) => sum + r.amountCents, 0)).toBe(900);
    });

    it('when the charge is unknown, then RefundRejected is thrown', async () => {
      const error = await rejectionOf(
        h.providers.payments.refund({
          idempotencyKey: uid('refund'),
          orderId: 'o',
          chargeId: 'ch_nope',
          amountCents: 1,
        }),
      );
      expect(error).toMatchObject({ type: 'RefundRejected', nonRetryable: true });
      expect((error as ApplicationFailure).details?.[0]).toMatchObject({ type: 'charge_not_found', status: 404 });
    });

    it('when the charge was declined, then refunding it is RefundRejected', async () => {
      const req = chargeRequest({ paymentMethod: 'pm_card_declined' });
      const declined = await rejectionOf(h.providers.payments.charge(req));
      const { chargeId } = (declined as ApplicationFailure).details?.[0] as { chargeId: string };
      const error = await rejectionOf(
        h.providers.payments.refund({ idempotencyKey: uid('refund'), orderId: req.orderId, chargeId, amountCents: 1 }),
      );
      expect(error).toMatchObject({ type: 'RefundRejected' });
    });
  });

  it('when stats are read, then they count the recorded rows', async () => {
    const stats = await h.admin.stats();
    const [row] = await h.db.query<{ n: number }>('select count(*)::int as n from sandbox.charges');
    expect(stats.charges).toBe(row?.n);
    expect(stats).toEqual({
      charges: expect.any(Number),
      refunds: expect.any(Number),
      labels: 0,
      notifications: 0,
    });
  });
});

import { ApplicationFailure } from '@temporalio/common';
import Stripe from 'stripe';
import type { ChargeRequest } from '../../src/providers/types';
import { rejectionOf, startHarness, uid, type SandboxHarness } from './harness';

/**
 * The Stripe adapter (official `stripe` package) against the sandbox's Stripe API: the documented semantics the
 * service relies on, with the sandbox's records as the proof.
 */
describe('payments over Stripe: adapter and sandbox', () => {
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

  /** A plain Stripe client of our own, for requests the adapter never makes (other parameters under one key). */
  const rawStripe = () => {
    const url = new URL(h.url);
    return new Stripe('sk_test_contract', {
      host: url.hostname,
      port: Number(url.port),
      protocol: 'http',
      maxNetworkRetries: 0,
    });
  };

  it('when a charge is sent, then one confirmed PaymentIntent holds the amount in cents, the currency and the order metadata', async () => {
    const req = chargeRequest();
    const charge = await h.providers.payments.charge(req);
    expect(charge).toEqual({ chargeId: expect.stringMatching(/^pi_/), amountCents: 2_500, currency: 'EUR' });
    expect(await h.admin.listPaymentIntents(req.orderId)).toEqual([
      expect.objectContaining({
        id: charge.chargeId,
        status: 'succeeded',
        amount: 2_500,
        currency: 'eur',
        paymentMethod: 'pm_card_visa',
        idempotencyKey: req.idempotencyKey,
        metadata: { orderId: req.orderId, customerId: 'cus_1' },
      }),
    ]);
  });

  it('when the same key is sent again with the same parameters, then Stripe replays the first result and only one intent exists', async () => {
    const req = chargeRequest();
    const first = await h.providers.payments.charge(req);
    const second = await h.providers.payments.charge(req);
    expect(second).toEqual(first);
    expect(
      await h.db.query('select id from sandbox.stripe_payment_intents where order_id = $1', [req.orderId]),
    ).toEqual([{ id: first.chargeId }]);
  });

  it('when a key is replayed, then the raw answer is the same and carries Idempotent-Replayed', async () => {
    const stripe = rawStripe();
    const params = {
      amount: 100,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
      metadata: { orderId: uid('order') },
    };
    const key = uid('raw');
    const first = await stripe.paymentIntents.create(params, { idempotencyKey: key });
    const second = await stripe.paymentIntents.create(params, { idempotencyKey: key });
    expect(second.id).toBe(first.id);
    expect(first.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    expect(second.lastResponse.headers['idempotent-replayed']).toBe('true');
  });

  it('when the same key comes with other parameters, then Stripe answers idempotency_error and the adapter throws IdempotencyKeyReused, non-retryable', async () => {
    const req = chargeRequest();
    await h.providers.payments.charge(req);
    const error = await rejectionOf(h.providers.payments.charge({ ...req, amountCents: req.amountCents + 1 }));
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect(error).toMatchObject({ type: 'IdempotencyKeyReused', nonRetryable: true });
    expect((error as ApplicationFailure).details?.[0]).toMatchObject({ status: 400, code: 'idempotency_error' });
    expect(await h.admin.listPaymentIntents(req.orderId)).toHaveLength(1);

    // The same key on another endpoint is refused the same way.
    const raw = await rejectionOf(
      rawStripe().refunds.create({ payment_intent: 'pi_x' }, { idempotencyKey: req.idempotencyKey }),
    );
    expect(raw).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
  });

  it('when 20 requests with one key arrive at once, then exactly one intent exists and all see it', async () => {
    const req = chargeRequest();
    const results = await Promise.all(Array.from({ length: 20 }, () => h.providers.payments.charge(req)));
    expect(new Set(results.map((r) => r.chargeId)).size).toBe(1);
    expect(await h.admin.listPaymentIntents(req.orderId)).toHaveLength(1);
  });

  it.each([
    ['pm_card_chargeDeclined', 'card_declined', 'generic_decline'],
    ['pm_card_chargeDeclinedInsufficientFunds', 'card_declined', 'insufficient_funds'],
    ['pm_card_chargeDeclinedExpiredCard', 'expired_card', 'expired_card'],
  ])(
    'when paying with %s, then PaymentDeclined carries code %s and decline code %s, and the replay declines alike',
    async (pm, code, declineCode) => {
      const req = chargeRequest({ paymentMethod: pm });
      const error = await rejectionOf(h.providers.payments.charge(req));
      expect(error).toBeInstanceOf(ApplicationFailure);
      expect(error).toMatchObject({ type: 'PaymentDeclined', nonRetryable: true });
      const detail = (error as ApplicationFailure).details?.[0];
      expect(detail).toMatchObject({ status: 402, code, declineCode, paymentIntentId: expect.stringMatching(/^pi_/) });

      const again = await rejectionOf(h.providers.payments.charge(req));
      expect((again as ApplicationFailure).details?.[0]).toEqual(detail);
      expect(await h.admin.listPaymentIntents(req.orderId)).toEqual([
        expect.objectContaining({ status: 'requires_payment_method', declineCode }),
      ]);
    },
  );

  it('when the amount is not a positive integer or the payment method is unknown, then the request is ProviderRejected and nothing is recorded', async () => {
    const fractional = chargeRequest({ amountCents: 12.5 });
    expect(await rejectionOf(h.providers.payments.charge(fractional))).toMatchObject({
      type: 'ProviderRejected',
      nonRetryable: true,
    });
    const unknown = chargeRequest({ paymentMethod: 'pm_card_nonsense' });
    const error = await rejectionOf(h.providers.payments.charge(unknown));
    expect(error).toMatchObject({ type: 'ProviderRejected' });
    expect((error as ApplicationFailure).details?.[0]).toMatchObject({ status: 400, code: 'resource_missing' });
    expect(await h.admin.listPaymentIntents(fractional.orderId)).toEqual([]);
    expect(await h.admin.listPaymentIntents(unknown.orderId)).toEqual([]);
  });

  it('when an order is searched by its metadata, then its intents are found, declines included, and no other order', async () => {
    const orderId = uid('order');
    const declined = await rejectionOf(
      h.providers.payments.charge(chargeRequest({ orderId, paymentMethod: 'pm_card_chargeDeclined' })),
    );
    const paid = await h.providers.payments.charge(chargeRequest({ orderId }));
    await h.providers.payments.charge(chargeRequest());

    const found = await h.providers.payments.findCharges(orderId);
    const declinedId = ((declined as ApplicationFailure).details?.[0] as { paymentIntentId: string }).paymentIntentId;
    expect(found).toEqual(
      expect.arrayContaining([
        { chargeId: paid.chargeId, amountCents: 2_500, currency: 'EUR', status: 'succeeded' },
        { chargeId: declinedId, amountCents: 2_500, currency: 'EUR', status: 'declined' },
      ]),
    );
    expect(found).toHaveLength(2);
    expect(await h.providers.payments.findCharges(uid('nobody'))).toEqual([]);
  });

  it('when an order ID holds a quote, then the search query escapes it and still finds exactly that order', async () => {
    const orderId = `${uid('o')}'x`;
    const paid = await h.providers.payments.charge(chargeRequest({ orderId }));
    expect((await h.providers.payments.findCharges(orderId)).map((c) => c.chargeId)).toEqual([paid.chargeId]);
  });

  it('when the key is missing or a live key is used, then Stripe answers 401', async () => {
    const response = await fetch(`${h.url}/v1/payment_intents`, { method: 'POST' });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
    const live = await fetch(`${h.url}/v1/payment_intents/search?query=x`, {
      headers: { authorization: 'Bearer sk_live_123' },
    });
    expect(live.status).toBe(401);
  });

  describe('refunds', () => {
    const refund = (orderId: string, chargeId: string, amountCents: number, key = uid('refund')) =>
      h.providers.payments.refund({ idempotencyKey: key, orderId, chargeId, amountCents });

    it('when refunding in parts up to the charge, then each succeeds, and one cent more is RefundRejected', async () => {
      const req = chargeRequest({ amountCents: 1_000 });
      const { chargeId } = await h.providers.payments.charge(req);

      expect(await refund(req.orderId, chargeId, 600)).toEqual({
        refundId: expect.stringMatching(/^re_/),
        amountCents: 600,
      });
      const error = await rejectionOf(refund(req.orderId, chargeId, 401));
      expect(error).toMatchObject({ type: 'RefundRejected', nonRetryable: true });
      expect((error as ApplicationFailure).details?.[0]).toMatchObject({ code: 'amount_too_large' });
      await refund(req.orderId, chargeId, 400);
      const done = await rejectionOf(refund(req.orderId, chargeId, 1));
      expect((done as ApplicationFailure).details?.[0]).toMatchObject({ code: 'charge_already_refunded' });
      expect((await h.admin.listRefunds(req.orderId)).map((r) => r.amount)).toEqual([600, 400]);
    });

    it('when a refund is replayed with its key, then the first refund comes back and nothing more is refunded', async () => {
      const req = chargeRequest({ amountCents: 1_000 });
      const { chargeId } = await h.providers.payments.charge(req);
      const key = uid('refund');
      const first = await refund(req.orderId, chargeId, 700, key);
      expect(await refund(req.orderId, chargeId, 700, key)).toEqual(first);
      expect(await h.admin.listRefunds(req.orderId)).toHaveLength(1);
    });

    it('when concurrent refunds with different keys together exceed the charge, then only what fits succeeds', async () => {
      const req = chargeRequest({ amountCents: 1_000 });
      const { chargeId } = await h.providers.payments.charge(req);
      const results = await Promise.allSettled(Array.from({ length: 5 }, () => refund(req.orderId, chargeId, 300)));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
      const refunds = await h.admin.listRefunds(req.orderId);
      expect(refunds.reduce((sum, r) => sum + r.amount, 0)).toBe(900);
    });

    it('when the intent is unknown or was declined, then the refund is RefundRejected', async () => {
      const unknown = await rejectionOf(refund('o', 'pi_nope', 1));
      expect(unknown).toMatchObject({ type: 'RefundRejected', nonRetryable: true });
      expect((unknown as ApplicationFailure).details?.[0]).toMatchObject({ status: 404, code: 'resource_missing' });

      const req = chargeRequest({ paymentMethod: 'pm_card_chargeDeclined' });
      const declined = await rejectionOf(h.providers.payments.charge(req));
      const { paymentIntentId } = (declined as ApplicationFailure).details?.[0] as { paymentIntentId: string };
      const error = await rejectionOf(refund(req.orderId, paymentIntentId, 1));
      expect(error).toMatchObject({ type: 'RefundRejected' });
      expect((error as ApplicationFailure).details?.[0]).toMatchObject({ code: 'charge_not_refundable' });
    });
  });

  it('when stats are read, then they count the recorded rows', async () => {
    const stats = await h.admin.stats();
    const [row] = await h.db.query<{ n: number }>('select count(*)::int as n from sandbox.stripe_payment_intents');
    expect(stats.paymentIntents).toBe(row?.n);
    expect(stats).toMatchObject({ shipments: 0, messages: 0 });
  });
});

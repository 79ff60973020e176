import Stripe from 'stripe';
import { ProviderFailureTypes, ProviderUnavailableError, providerRefusal, type ProviderFailureType } from './errors';
import type { PaymentGateway, RecordedCharge } from './types';

/** Where Stripe's API is and how long one call may take. */
export interface StripeGatewayOptions {
  /** A secret key: `sk_test_...` (test mode) or `sk_live_...`. */
  secretKey: string;
  /** Base URL of an API speaking Stripe's protocol (the sandbox); unset: api.stripe.com. */
  baseUrl?: string;
  /** Budget of one request; past it the answer counts as lost and the call is retried with the same key. */
  timeoutMs: number;
}

const PROVIDER = 'payments';

/** Stripe's search query for the PaymentIntents of an order (values in single quotes, `'` and `\` escaped). */
export function orderSearchQuery(orderId: string): string {
  return `metadata['orderId']:'${orderId.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/**
 * The payment gateway over Stripe's API with the official `stripe` package: one PaymentIntent per order, created and
 * confirmed in one call under the caller's idempotency key; refunds under their own key; the lookup of an order's
 * intents through Stripe's search by metadata.
 *
 * The SDK's own retries are off (`maxNetworkRetries: 0`): Temporal's retry policy owns retrying, with the same key,
 * so an attempt is one request and a timeout is the activity's, not hidden inside the client.
 */
export function createStripeGateway(options: StripeGatewayOptions): PaymentGateway {
  const target = options.baseUrl ? new URL(options.baseUrl) : undefined;
  const stripe = new Stripe(options.secretKey, {
    maxNetworkRetries: 0,
    timeout: options.timeoutMs,
    telemetry: false,
    ...(target
      ? {
          host: target.hostname,
          port: Number(target.port || (target.protocol === 'https:' ? 443 : 80)),
          protocol: target.protocol === 'https:' ? 'https' : 'http',
        }
      : {}),
  });
  const origin = target ? target.origin : 'https://api.stripe.com';

  /** Run one Stripe call, mapping its errors (see src/providers/errors.ts); `refusal` types a 4xx of this endpoint. */
  async function call<T>(
    method: 'GET' | 'POST',
    path: string,
    run: () => Promise<T>,
    refusal: ProviderFailureType = ProviderFailureTypes.ProviderRejected,
  ): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw mapStripeError(error, { method, url: `${origin}${path}`, timeoutMs: options.timeoutMs, refusal });
    }
  }

  return {
    async charge(req) {
      const intent = await call('POST', '/v1/payment_intents', () =>
        stripe.paymentIntents.create(
          {
            amount: req.amountCents,
            currency: req.currency.toLowerCase(),
            payment_method: req.paymentMethod,
            // A server-side charge of a saved card: no payment method that would send the customer elsewhere.
            automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
            confirm: true,
            description: `Order ${req.orderId}`,
            metadata: { orderId: req.orderId, customerId: req.customerId },
          },
          { idempotencyKey: req.idempotencyKey },
        ),
      );
      if (intent.status !== 'succeeded') {
        // A confirmed card intent that is not succeeded wants something the server side cannot give (3-D Secure for
        // an off-session charge): a refusal of the card, not a transient state worth waiting for.
        throw providerRefusal(ProviderFailureTypes.PaymentDeclined, {
          provider: PROVIDER,
          code: intent.status,
          declineCode: intent.last_payment_error?.decline_code ?? intent.status,
          paymentIntentId: intent.id,
          message: `PaymentIntent ${intent.id} is ${intent.status}`,
        });
      }
      return { chargeId: intent.id, amountCents: intent.amount_received, currency: intent.currency.toUpperCase() };
    },

    async refund(req) {
      const refund = await call(
        'POST',
        '/v1/refunds',
        () =>
          stripe.refunds.create(
            { payment_intent: req.chargeId, amount: req.amountCents, metadata: { orderId: req.orderId } },
            { idempotencyKey: req.idempotencyKey },
          ),
        ProviderFailureTypes.RefundRejected,
      );
      if (refund.status === 'failed' || refund.status === 'canceled') {
        throw providerRefusal(ProviderFailureTypes.RefundRejected, {
          provider: PROVIDER,
          code: refund.status,
          message: `Refund ${refund.id} is ${refund.status}${refund.failure_reason ? `: ${refund.failure_reason}` : ''}`,
        });
      }
      return { refundId: refund.id, amountCents: refund.amount };
    },

    async findCharges(orderId) {
      // Stripe's search is eventually consistent (an intent can take up to a minute to show); it is the fallback for
      // answers that were lost, never the way a fresh charge is read back.
      const found = await call('GET', '/v1/payment_intents/search', () =>
        stripe.paymentIntents.search({ query: orderSearchQuery(orderId), limit: 100 }),
      );
      return found.data.flatMap((intent): RecordedCharge[] => {
        if (intent.status !== 'succeeded' && intent.status !== 'requires_payment_method') return [];
        return [
          {
            chargeId: intent.id,
            amountCents: intent.status === 'succeeded' ? intent.amount_received : intent.amount,
            currency: intent.currency.toUpperCase(),
            status: intent.status === 'succeeded' ? 'succeeded' : 'declined',
          },
        ];
      });
    },
  };
}

/** Which failures are which: see src/providers/errors.ts. */
function mapStripeError(
  error: unknown,
  context: { method: string; url: string; timeoutMs: number; refusal: ProviderFailureType },
): Error {
  const unavailable = (reason: string, status?: number) =>
    new ProviderUnavailableError({
      provider: PROVIDER,
      method: context.method,
      url: context.url,
      status,
      reason,
      cause: error,
    });
  if (!(error instanceof Stripe.errors.StripeError)) return error instanceof Error ? error : new Error(String(error));
  const status = error.statusCode;
  const detail = {
    provider: PROVIDER,
    ...(status !== undefined ? { status } : {}),
    ...(error.code ? { code: error.code } : {}),
    message: error.message,
  };
  if (error instanceof Stripe.errors.StripeConnectionError) {
    return /timeout/i.test(error.message)
      ? unavailable(`timed out after ${context.timeoutMs} ms`)
      : unavailable(`failed: ${error.message}`);
  }
  if (error instanceof Stripe.errors.StripeCardError) {
    return providerRefusal(ProviderFailureTypes.PaymentDeclined, {
      ...detail,
      code: error.code ?? 'card_declined',
      declineCode: error.decline_code ?? error.code ?? 'card_declined',
      ...(error.payment_intent ? { paymentIntentId: error.payment_intent.id } : {}),
    });
  }
  if (error instanceof Stripe.errors.StripeIdempotencyError) {
    return providerRefusal(ProviderFailureTypes.IdempotencyKeyReused, { ...detail, code: 'idempotency_error' });
  }
  // 429, 409 (a request with the same key still running) and 5xx say "not now", not "never"; so does an answer
  // whose body was not JSON (cut off on the way): the keyed retry tells whether it took effect.
  if (error instanceof Stripe.errors.StripeRateLimitError || status === undefined || status === 409 || status >= 500) {
    return unavailable(`answered ${status ?? 'without a readable body'}${error.type ? ` ${error.type}` : ''}`, status);
  }
  if (!(error instanceof Stripe.errors.StripeInvalidRequestError)) {
    // 401/403: a wrong or restricted key, the same answer on every retry.
    return providerRefusal(ProviderFailureTypes.ProviderRejected, detail);
  }
  if (status === 404 && context.refusal === ProviderFailureTypes.ProviderRejected) {
    return providerRefusal(ProviderFailureTypes.NotFound, detail);
  }
  return providerRefusal(context.refusal, detail);
}

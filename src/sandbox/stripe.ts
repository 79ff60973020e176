import express, { type Request, type Response } from 'express';
import type { PoolClient } from 'pg';
import { z } from 'zod';
import type { FaultInjector } from './faults';
import { admit, newId, pathParam, reply, requestHash, send, type UnavailableBody } from './http';
import type { IdempotentOutcome, PaymentIntentRow, RefundRow, SandboxStore, StoredResponse } from './store';

/**
 * The subset of Stripe's API the payment adapter uses, form-encoded under `/v1` as the official `stripe` package
 * sends it: create-and-confirm a PaymentIntent, retrieve it, search intents by metadata, refund.
 *
 * Idempotency follows Stripe: a POST with an `Idempotency-Key` that was used before with the same parameters gets the
 * first response replayed (declines included, with `Idempotent-Replayed: true`); with other parameters (or on another
 * endpoint) it gets a 400 `idempotency_error`. Requests that fail validation are not saved under their key. A second
 * request racing the first with the same key waits for it and then replays its answer (Stripe answers such a race
 * with a retryable 409 instead; both end with one PaymentIntent).
 */

/** Stripe's test payment methods that decline, with the error Stripe answers them with. */
const DECLINES: Record<string, { code: string; declineCode: string; message: string }> = {
  pm_card_chargeDeclined: { code: 'card_declined', declineCode: 'generic_decline', message: 'Your card was declined.' },
  pm_card_chargeDeclinedInsufficientFunds: {
    code: 'card_declined',
    declineCode: 'insufficient_funds',
    message: 'Your card has insufficient funds.',
  },
  pm_card_chargeDeclinedFraudulent: {
    code: 'card_declined',
    declineCode: 'fraudulent',
    message: 'Your card was declined.',
  },
  pm_card_chargeDeclinedLostCard: {
    code: 'card_declined',
    declineCode: 'lost_card',
    message: 'Your card was declined.',
  },
  pm_card_chargeDeclinedStolenCard: {
    code: 'card_declined',
    declineCode: 'stolen_card',
    message: 'Your card was declined.',
  },
  pm_card_chargeDeclinedExpiredCard: {
    code: 'expired_card',
    declineCode: 'expired_card',
    message: 'Your card has expired.',
  },
  pm_card_chargeDeclinedIncorrectCvc: {
    code: 'incorrect_cvc',
    declineCode: 'incorrect_cvc',
    message: "Your card's security code is incorrect.",
  },
  pm_card_chargeDeclinedProcessingError: {
    code: 'processing_error',
    declineCode: 'processing_error',
    message: 'An error occurred while processing your card. Try again in a little bit.',
  },
};

/** Stripe's test payment methods that succeed. */
const SUCCEEDS = new Set([
  'pm_card_visa',
  'pm_card_visa_debit',
  'pm_card_mastercard',
  'pm_card_amex',
  'pm_card_discover',
  'pm_card_us',
]);

/** A Stripe error body: `{"error": {"type": ..., "message": ...}}`. */
function stripeError(status: number, error: Record<string, unknown>): StoredResponse {
  return { status, body: { error } };
}

const invalidRequest = (message: string, extra: Record<string, unknown> = {}) =>
  stripeError(400, { type: 'invalid_request_error', message, ...extra });

const unavailable: UnavailableBody = (_service, reason) => ({
  error: { type: 'api_error', message: `The sandbox could not process the request (${reason}).` },
});

/** Thrown for requests Stripe would reject before executing them; never saved under an idempotency key. */
class StripeRequestError extends Error {
  constructor(readonly response: StoredResponse) {
    super('invalid Stripe request');
  }
}

const amount = z.coerce.number().int().positive().max(99_999_999);
const metadata = z.record(z.string(), z.string().max(500)).default({});

const createIntentParams = z.object({
  amount,
  currency: z.string().regex(/^[A-Za-z]{3}$/),
  payment_method: z.string().min(1).optional(),
  confirm: z.enum(['true', 'false']).optional(),
  automatic_payment_methods: z
    .object({ enabled: z.enum(['true', 'false']), allow_redirects: z.enum(['always', 'never']).optional() })
    .optional(),
  description: z.string().max(1000).optional(),
  metadata,
});

const refundParams = z.object({
  payment_intent: z.string().min(1),
  amount: amount.optional(),
  reason: z.enum(['duplicate', 'fraudulent', 'requested_by_customer']).optional(),
  metadata,
});

function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const param = issue?.path.join('.') ?? '';
  throw new StripeRequestError(invalidRequest(`Invalid ${param || 'request'}: ${issue?.message}`, { param }));
}

const epochSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);

/** A PaymentIntent as Stripe's API returns it. */
function intentJson(row: PaymentIntentRow): Record<string, unknown> {
  const succeeded = row.status === 'succeeded';
  const decline = DECLINES[row.payment_method];
  return {
    id: row.id,
    object: 'payment_intent',
    amount: row.amount,
    amount_received: succeeded ? row.amount : 0,
    currency: row.currency,
    status: row.status,
    payment_method: row.payment_method,
    payment_method_types: ['card'],
    latest_charge: row.charge_id,
    description: row.description,
    metadata: row.metadata,
    created: epochSeconds(row.created_at),
    livemode: false,
    client_secret: `${row.id}_secret_sandbox`,
    last_payment_error:
      succeeded || !decline
        ? null
        : { type: 'card_error', code: decline.code, decline_code: decline.declineCode, message: decline.message },
  };
}

function refundJson(row: RefundRow, currency: string): Record<string, unknown> {
  return {
    id: row.id,
    object: 'refund',
    amount: row.amount,
    currency,
    payment_intent: row.payment_intent_id,
    status: 'succeeded',
    metadata: row.metadata,
    created: epochSeconds(row.created_at),
  };
}

/** `Authorization: Bearer sk_test_...`: the sandbox is a test-mode account and refuses live keys. */
function authenticate(req: Request): StoredResponse | undefined {
  const key = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
  if (!key) {
    return stripeError(401, {
      type: 'invalid_request_error',
      message: 'You did not provide an API key. Provide it in the Authorization header (Bearer auth).',
    });
  }
  if (!/^(sk|rk)_test_/.test(key)) {
    return stripeError(401, {
      type: 'invalid_request_error',
      message: 'Invalid API Key provided: the sandbox accepts test-mode keys (sk_test_...) only.',
    });
  }
  return undefined;
}

/**
 * Parse Stripe's search query language, the part the adapter uses: clauses `metadata['key']:'value'` and
 * `status:'value'` joined by AND.
 */
export function parseSearchQuery(query: string): { metadata: Record<string, string>; status?: string } {
  const clause = /^\s*(?:metadata\[(['"])(.+?)\1\]|(status))\s*:\s*(['"])((?:\\.|(?!\4).)*)\4\s*$/;
  const found: { metadata: Record<string, string>; status?: string } = { metadata: {} };
  for (const part of query.split(/\s+AND\s+/)) {
    const match = clause.exec(part);
    if (!match) throw new StripeRequestError(invalidRequest(`Unsupported search query: ${query}`, { param: 'query' }));
    const value = (match[5] ?? '').replace(/\\(.)/g, '$1');
    if (match[3]) found.status = value;
    else found.metadata[match[2] ?? ''] = value;
  }
  return found;
}

/** The simulated Stripe account's routes, under `/v1`. */
export function stripeRouter(store: SandboxStore, faults: FaultInjector): express.Router {
  const router = express.Router();
  router.use(express.urlencoded({ extended: true, limit: '64kb' }));

  /** Fault gate and authentication; false when the request was answered already. */
  async function gate(req: Request, res: Response): Promise<boolean> {
    const refused = authenticate(req);
    if (refused) {
      send(res, refused);
      return false;
    }
    return admit(faults, 'payments', req, res, unavailable);
  }

  /** Run a POST at most once per Idempotency-Key (without a key: every time), and answer it. */
  async function idempotentPost(
    req: Request,
    res: Response,
    params: unknown,
    execute: (tx: PoolClient, key: string | null) => Promise<StoredResponse>,
  ): Promise<void> {
    const key = req.get('Idempotency-Key')?.trim() || null;
    if (key === null) {
      return reply(faults, 'payments', res, await store.transaction((tx) => execute(tx, null)));
    }
    // The endpoint is part of the hash: Stripe refuses a key reused on another endpoint like one reused with
    // other parameters.
    const hash = requestHash({ path: req.path, params });
    const outcome: IdempotentOutcome = await store.idempotent('stripe', key, hash, (tx) => execute(tx, key));
    switch (outcome.kind) {
      case 'fresh':
        return reply(faults, 'payments', res, outcome.response);
      case 'replay':
        return reply(faults, 'payments', res, outcome.response, { 'Idempotent-Replayed': 'true' });
      case 'mismatch':
        return reply(
          faults,
          'payments',
          res,
          stripeError(400, {
            type: 'idempotency_error',
            message:
              `Keys for idempotent requests can only be used with the same parameters they were first used with. ` +
              `Try using a key other than '${key}' if you meant to execute a different request.`,
          }),
        );
    }
  }

  router.post('/payment_intents', async (req, res) => {
    if (!(await gate(req, res))) return;
    const params = parse(createIntentParams, req.body);
    if (params.confirm !== 'true' || !params.payment_method) {
      throw new StripeRequestError(
        invalidRequest('The sandbox creates PaymentIntents confirmed at once: send confirm=true and a payment_method.'),
      );
    }
    const paymentMethod = params.payment_method;
    const decline = DECLINES[paymentMethod];
    if (!decline && !SUCCEEDS.has(paymentMethod)) {
      throw new StripeRequestError(
        invalidRequest(`No such PaymentMethod: '${paymentMethod}'`, {
          code: 'resource_missing',
          param: 'payment_method',
        }),
      );
    }
    await idempotentPost(req, res, params, async (tx, key) => {
      const intent = await store.insertPaymentIntent(tx, {
        id: newId('pi'),
        amount: params.amount,
        currency: params.currency.toLowerCase(),
        paymentMethod,
        status: decline ? 'requires_payment_method' : 'succeeded',
        declineCode: decline?.declineCode ?? null,
        chargeId: newId('ch'),
        idempotencyKey: key,
        metadata: params.metadata,
        description: params.description ?? null,
      });
      if (!decline) return { status: 200, body: intentJson(intent) };
      return stripeError(402, {
        type: 'card_error',
        code: decline.code,
        decline_code: decline.declineCode,
        message: decline.message,
        charge: intent.charge_id,
        payment_intent: intentJson(intent),
        doc_url: `https://stripe.com/docs/error-codes/${decline.code.replace(/_/g, '-')}`,
      });
    });
  });

  // Registered before `/payment_intents/:id`, which would otherwise take "search" for an ID.
  router.get('/payment_intents/search', async (req, res) => {
    if (!(await gate(req, res))) return;
    const { query, limit } = parse(
      z.object({ query: z.string().min(1), limit: z.coerce.number().int().min(1).max(100).default(10) }),
      req.query,
    );
    const { metadata: wanted, status } = parseSearchQuery(query);
    const found = await store.searchPaymentIntents(wanted, status, limit + 1);
    send(res, {
      status: 200,
      body: {
        object: 'search_result',
        url: '/v1/payment_intents/search',
        has_more: found.length > limit,
        next_page: null,
        data: found.slice(0, limit).map(intentJson),
      },
    });
  });

  router.get('/payment_intents/:id', async (req, res) => {
    if (!(await gate(req, res))) return;
    const id = pathParam(req, 'id');
    const intent = await store.findPaymentIntent(id);
    if (!intent) {
      return send(
        res,
        stripeError(404, {
          type: 'invalid_request_error',
          code: 'resource_missing',
          param: 'intent',
          message: `No such payment_intent: '${id}'`,
        }),
      );
    }
    send(res, { status: 200, body: intentJson(intent) });
  });

  router.post('/refunds', async (req, res) => {
    if (!(await gate(req, res))) return;
    const params = parse(refundParams, req.body);
    await idempotentPost(req, res, params, async (tx, key) => {
      // Locking the intent serialises refunds against it, so two refunds with different keys cannot both pass the
      // limit check.
      const intent = await store.getPaymentIntent(tx, params.payment_intent, true);
      if (!intent) {
        return stripeError(404, {
          type: 'invalid_request_error',
          code: 'resource_missing',
          param: 'payment_intent',
          message: `No such payment_intent: '${params.payment_intent}'`,
        });
      }
      if (intent.status !== 'succeeded') {
        return invalidRequest(`This PaymentIntent (${intent.id}) does not have a successful charge to refund.`, {
          code: 'charge_not_refundable',
          param: 'payment_intent',
        });
      }
      const remaining = intent.amount - (await store.refundedAmount(tx, intent.id));
      if (remaining <= 0) {
        return invalidRequest(`Charge ${intent.charge_id} has already been refunded.`, {
          code: 'charge_already_refunded',
        });
      }
      const refundAmount = params.amount ?? remaining;
      if (refundAmount > remaining) {
        return invalidRequest(
          `Refund amount (${refundAmount}) is greater than unrefunded amount on charge (${remaining}).`,
          { code: 'amount_too_large', param: 'amount' },
        );
      }
      const refund = await store.insertRefund(tx, {
        id: newId('re'),
        paymentIntentId: intent.id,
        amount: refundAmount,
        idempotencyKey: key,
        metadata: params.metadata,
      });
      return { status: 200, body: refundJson(refund, intent.currency) };
    });
  });

  router.use((req: Request, res: Response) => {
    send(res, invalidRequest(`Unrecognized request URL (${req.method}: /v1${req.path}).`));
  });

  router.use((error: unknown, _req: Request, res: Response, next: (error: unknown) => void) => {
    if (res.headersSent) return next(error);
    if (error instanceof StripeRequestError) return send(res, error.response);
    if (isBodyParserError(error)) return send(res, invalidRequest(`Invalid request body: ${error.message}`));
    next(error);
  });
  return router;
}

function isBodyParserError(error: unknown): error is Error & { status: number } {
  return error instanceof Error && 'status' in error && typeof error.status === 'number' && error.status < 500;
}

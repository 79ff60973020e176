import { createHash, randomBytes, randomInt } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import type { FaultService, ProblemBody } from './contract';
import { InvalidFaultsError, parseFaultsUpdate, type FaultInjector } from './faults';
import type { IdempotentOutcome, SandboxStore, StoredResponse } from './store';

/** The subset of a pino logger the sandbox uses; omit it to stay silent. */
export interface SandboxLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** What the sandbox app needs: its records, its fault knobs, and optionally a clock and a logger. */
export interface SandboxAppDeps {
  store: SandboxStore;
  faults: FaultInjector;
  /** Clock for pickup dates; injectable so tests can pin it. */
  now?: () => Date;
  logger?: SandboxLogger;
}

/** The carriers the sandbox simulates. */
export const CARRIERS = ['primary', 'backup'] as const;
type CarrierName = (typeof CARRIERS)[number];

/** Tracking number prefix per carrier, so a number alone tells which carrier to call. */
const TRACKING_PREFIX: Record<CarrierName, string> = { primary: 'PRI', backup: 'BAK' };

/** Test card numbers, Stripe style: these payment methods are declined with the given problem. */
const DECLINES: Record<string, { type: string; title: string; detail: string }> = {
  pm_card_declined: { type: 'card_declined', title: 'Card declined', detail: 'The card was declined.' },
  pm_insufficient_funds: {
    type: 'insufficient_funds',
    title: 'Insufficient funds',
    detail: 'The card has insufficient funds to complete the purchase.',
  },
};

/** The primary carrier does not deliver to this postal code: a business refusal, not a transient failure. */
const UNSERVICEABLE_POSTAL_CODE = '00000';

const text = z.string().trim().min(1).max(500);

const chargeBody = z.object({
  orderId: text,
  customerId: text,
  amountCents: z.number().int().positive().max(1_000_000_000),
  // Normalised so that `eur` and `EUR` are the same request for idempotency purposes.
  currency: z
    .string()
    .regex(/^[A-Za-z]{3}$/, 'must be a three-letter ISO 4217 code')
    .transform((c) => c.toUpperCase()),
  paymentMethod: text,
});

const refundBody = z.object({
  chargeId: text,
  amountCents: z.number().int().positive().max(1_000_000_000),
  orderId: text,
});

const labelBody = z.object({
  orderId: text,
  weightGrams: z.number().int().positive().max(1_000_000),
  address: z.object({ name: text, line1: text, city: text, postalCode: text, country: text }),
});

const notificationBody = z.object({
  orderId: text,
  channel: z.enum(['email', 'sms']),
  to: text,
  // Text messages have no subject; an empty one is fine.
  subject: z.string().max(500),
  body: z.string().min(1).max(10_000),
});

const orderQuery = z.object({ orderId: text });

/** An error that is answered as problem details; thrown for malformed requests. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly title: string,
    readonly detail: string,
  ) {
    super(detail);
  }
}

/** Build a problem-details response. */
function problem(
  status: number,
  type: string,
  title: string,
  detail: string,
  extensions: Record<string, unknown> = {},
): StoredResponse {
  const body: ProblemBody = { type, title, status, detail, ...extensions };
  return { status, body };
}

function send(res: Response, response: StoredResponse, headers: Record<string, string> = {}): void {
  res.status(response.status).set(headers);
  if (response.status >= 400) res.type('application/problem+json').send(JSON.stringify(response.body));
  else res.json(response.body);
}

/** True once the client hung up (or the server destroyed the socket while shutting down). */
function connectionClosed(res: Response): boolean {
  return res.destroyed || res.socket === null || res.socket.destroyed;
}

/**
 * Wait `ms`, giving up early when the connection closes: a hung request whose client gave up (or a server shutting
 * down) must not keep a timer alive. Resolves true if the connection is still open afterwards.
 */
function pause(ms: number, res: Response): Promise<boolean> {
  return new Promise((resolve) => {
    if (connectionClosed(res)) return resolve(false);
    const onClose = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      res.off('close', onClose);
      resolve(!connectionClosed(res));
    }, ms);
    res.once('close', onClose);
  });
}

function parse<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || what}: ${issue.message}`);
  throw new HttpProblem(400, 'invalid_request', `Invalid ${what}`, issues.join('; '));
}

function idempotencyKey(req: Request): string {
  const key = req.get('Idempotency-Key')?.trim();
  if (!key) {
    throw new HttpProblem(
      400,
      'idempotency_key_missing',
      'Idempotency-Key required',
      'Send an Idempotency-Key header.',
    );
  }
  if (key.length > 255) {
    throw new HttpProblem(400, 'invalid_request', 'Idempotency-Key too long', 'Keys are at most 255 characters.');
  }
  return key;
}

function carrierOf(req: Request): CarrierName {
  const carrier = req.params.carrier;
  if (carrier === 'primary' || carrier === 'backup') return carrier;
  throw new HttpProblem(404, 'carrier_not_found', 'Unknown carrier', `No carrier named "${String(carrier)}".`);
}

function pathParam(req: Request, name: string): string {
  const value = req.params[name];
  if (typeof value !== 'string' || value === '') throw new HttpProblem(400, 'invalid_request', 'Bad path', name);
  return value;
}

/** JSON with sorted keys, so the same parameters always hash the same. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const requestHash = (params: unknown): string => createHash('sha256').update(canonicalJson(params)).digest('hex');
const newId = (prefix: string): string => `${prefix}_${randomBytes(12).toString('hex')}`;
const digits = (n: number): string => Array.from({ length: n }, () => randomInt(10)).join('');

/** Carriers collect the day after booking, in the morning. */
function nextPickup(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1, 9, 0, 0));
}

function errorStatus(error: unknown): { status: number; type: string } | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const status = 'status' in error && typeof error.status === 'number' ? error.status : undefined;
  const type = 'type' in error && typeof error.type === 'string' ? error.type : 'invalid_request';
  return status !== undefined && status >= 400 && status < 500 ? { status, type } : undefined;
}

/**
 * The provider sandbox as an Express app (not listening; see server.ts).
 *
 * Every mutating request goes through the same steps: fault gate (latency, then outage/failNext/errorRate answer
 * 503 before doing anything), validation, the side effect in one transaction with its idempotency key, and finally
 * the response - which a `timeoutNext`/`timeoutRate` fault withholds for `hangMs`, simulating a lost response.
 */
export function createSandboxApp(deps: SandboxAppDeps): express.Express {
  const { store, faults } = deps;
  const now = deps.now ?? (() => new Date());
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(express.json({ type: ['application/json', 'application/*+json'], limit: '64kb' }));

  /** Apply the service's faults before a request does anything; false when it was already answered. */
  async function admit(req: Request, res: Response, service: FaultService): Promise<boolean> {
    const latency = faults.latencyMs(service);
    if (latency > 0 && !(await pause(latency, res))) return false;
    if (req.method === 'GET') return true;
    const reason = faults.reject(service);
    if (!reason) return true;
    res.set('Retry-After', '1');
    send(res, problem(503, 'service_unavailable', 'Service unavailable', `Simulated ${service} fault: ${reason}.`));
    return false;
  }

  /** Answer a request whose side effect is committed, unless a fault says this response gets lost for a while. */
  async function reply(res: Response, service: FaultService, response: StoredResponse, headers = {}): Promise<void> {
    const hang = faults.hangMs(service);
    if (hang !== undefined && !(await pause(hang, res))) return;
    if (!connectionClosed(res)) send(res, response, headers);
  }

  async function replyOutcome(res: Response, service: FaultService, outcome: IdempotentOutcome): Promise<void> {
    switch (outcome.kind) {
      case 'fresh':
        return reply(res, service, outcome.response);
      case 'replay':
        return reply(res, service, outcome.response, { 'Idempotent-Replayed': 'true' });
      case 'mismatch':
        return reply(
          res,
          service,
          problem(
            422,
            'idempotency_key_reused',
            'Idempotency key reused',
            'This Idempotency-Key was already used with different parameters.',
          ),
        );
    }
  }

  // --- operations ---------------------------------------------------------------------------------------------

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });

  app.get('/_faults', (_req, res) => {
    res.json(faults.snapshot());
  });

  app.put('/_faults', (req, res) => {
    try {
      res.json(faults.update(parseFaultsUpdate(req.body ?? {})));
    } catch (error) {
      if (error instanceof InvalidFaultsError)
        throw new HttpProblem(400, 'invalid_request', 'Invalid faults', error.message);
      throw error;
    }
  });

  app.delete('/_faults', (_req, res) => {
    res.json(faults.clear());
  });

  app.get('/_stats', async (_req, res) => {
    res.json(await store.stats());
  });

  // --- payments -----------------------------------------------------------------------------------------------

  app.post('/payments/charges', async (req, res) => {
    if (!(await admit(req, res, 'payments'))) return;
    const key = idempotencyKey(req);
    const input = parse(chargeBody, req.body, 'charge');
    const outcome = await store.idempotent('payments.charges', key, requestHash(input), async (tx) => {
      const decline = DECLINES[input.paymentMethod];
      const charge = await store.insertCharge(tx, {
        id: newId('ch'),
        ...input,
        status: decline ? 'declined' : 'succeeded',
        failureCode: decline?.type ?? null,
        idempotencyKey: key,
      });
      if (decline) return problem(402, decline.type, decline.title, decline.detail, { chargeId: charge.id });
      const { id, orderId, amountCents, currency, status, createdAt } = charge;
      return { status: 201, body: { id, orderId, amountCents, currency, status, createdAt } };
    });
    await replyOutcome(res, 'payments', outcome);
  });

  app.post('/payments/refunds', async (req, res) => {
    if (!(await admit(req, res, 'payments'))) return;
    const key = idempotencyKey(req);
    const input = parse(refundBody, req.body, 'refund');
    const outcome = await store.idempotent('payments.refunds', key, requestHash(input), async (tx) => {
      // Locking the charge serialises refunds against it, so two refunds with different keys cannot both pass the
      // limit check.
      const charge = await store.lockCharge(tx, input.chargeId);
      if (!charge) return problem(404, 'charge_not_found', 'Charge not found', `No charge ${input.chargeId}.`);
      if (charge.orderId !== input.orderId) {
        return problem(
          422,
          'charge_order_mismatch',
          'Charge belongs to another order',
          `Charge ${charge.id} is not for order ${input.orderId}.`,
        );
      }
      if (charge.status !== 'succeeded') {
        return problem(
          422,
          'charge_not_refundable',
          'Charge not refundable',
          `Charge ${charge.id} is ${charge.status}.`,
        );
      }
      const refunded = await store.refundedCents(tx, charge.id);
      const remaining = charge.amountCents - refunded;
      if (input.amountCents > remaining) {
        return problem(
          422,
          'refund_exceeds_charge',
          'Refund exceeds charge',
          `Refund of ${input.amountCents} exceeds the ${remaining} cents left on charge ${charge.id}.`,
          { chargeId: charge.id, refundableCents: remaining },
        );
      }
      const refund = await store.insertRefund(tx, { id: newId('re'), ...input, idempotencyKey: key });
      const { id, chargeId, orderId, amountCents, createdAt } = refund;
      return { status: 201, body: { id, chargeId, orderId, amountCents, createdAt } };
    });
    await replyOutcome(res, 'payments', outcome);
  });

  app.get('/payments/charges', async (req, res) => {
    if (!(await admit(req, res, 'payments'))) return;
    const { orderId } = parse(orderQuery, req.query, 'query');
    res.json({ data: await store.listCharges(orderId) });
  });

  app.get('/payments/refunds', async (req, res) => {
    if (!(await admit(req, res, 'payments'))) return;
    const { orderId } = parse(orderQuery, req.query, 'query');
    res.json({ data: await store.listRefunds(orderId) });
  });

  // --- carriers -----------------------------------------------------------------------------------------------

  app.post('/carriers/:carrier/labels', async (req, res) => {
    const carrier = carrierOf(req);
    if (!(await admit(req, res, carrier))) return;
    const key = idempotencyKey(req);
    const input = parse(labelBody, req.body, 'label');
    const outcome = await store.idempotent(`carriers.${carrier}.labels`, key, requestHash(input), async (tx) => {
      // Refusals are decided inside the transaction, so they are recorded under the key and replayed like any
      // other business outcome.
      if (carrier === 'primary' && input.address.postalCode === UNSERVICEABLE_POSTAL_CODE) {
        return problem(
          422,
          'address_unserviceable',
          'Address not serviceable',
          `The ${carrier} carrier does not deliver to postal code ${input.address.postalCode}.`,
        );
      }
      if (faults.refuse(carrier)) {
        return problem(422, 'carrier_refused', 'Booking refused', `The ${carrier} carrier refused the booking.`);
      }
      const label = await store.insertLabel(tx, {
        labelId: newId('lbl'),
        carrier,
        ...input,
        trackingNumber: `${TRACKING_PREFIX[carrier]}${digits(12)}`,
        pickupDate: nextPickup(now()).toISOString(),
        idempotencyKey: key,
      });
      const { labelId, orderId, trackingNumber, pickupDate, status } = label;
      return { status: 201, body: { labelId, carrier, orderId, trackingNumber, pickupDate, status } };
    });
    await replyOutcome(res, carrier, outcome);
  });

  app.post('/carriers/:carrier/labels/:labelId/void', async (req, res) => {
    const carrier = carrierOf(req);
    if (!(await admit(req, res, carrier))) return;
    const labelId = pathParam(req, 'labelId');
    const response = await store.transaction(async (tx): Promise<StoredResponse> => {
      const label = await store.getLabel(tx, carrier, labelId, true);
      if (!label) return problem(404, 'label_not_found', 'Label not found', `No ${carrier} label ${labelId}.`);
      if (label.status === 'PICKED_UP') {
        return problem(409, 'label_already_picked_up', 'Label already picked up', `Label ${labelId} was collected.`);
      }
      // Voiding twice is a no-op: a retried void whose first response was lost must still succeed.
      const voided = label.status === 'VOIDED' ? label : await store.setLabelStatus(tx, labelId, 'VOIDED');
      return { status: 200, body: { labelId, carrier, status: voided.status, voidedAt: voided.voidedAt } };
    });
    await reply(res, carrier, response);
  });

  app.post('/carriers/:carrier/labels/:labelId/pickup', async (req, res) => {
    const carrier = carrierOf(req);
    if (!(await admit(req, res, carrier))) return;
    const labelId = pathParam(req, 'labelId');
    const response = await store.transaction(async (tx): Promise<StoredResponse> => {
      const label = await store.getLabel(tx, carrier, labelId, true);
      if (!label) return problem(404, 'label_not_found', 'Label not found', `No ${carrier} label ${labelId}.`);
      if (label.status === 'VOIDED')
        return problem(409, 'label_voided', 'Label voided', `Label ${labelId} was voided.`);
      const picked = label.status === 'PICKED_UP' ? label : await store.setLabelStatus(tx, labelId, 'PICKED_UP');
      return { status: 200, body: { labelId, carrier, status: picked.status, pickedUpAt: picked.pickedUpAt } };
    });
    await reply(res, carrier, response);
  });

  app.get('/carriers/:carrier/labels', async (req, res) => {
    const carrier = carrierOf(req);
    if (!(await admit(req, res, carrier))) return;
    const { orderId } = parse(orderQuery, req.query, 'query');
    res.json({ data: await store.listLabels(carrier, orderId) });
  });

  app.get('/carriers/:carrier/labels/:labelId', async (req, res) => {
    const carrier = carrierOf(req);
    if (!(await admit(req, res, carrier))) return;
    const labelId = pathParam(req, 'labelId');
    const label = await store.findLabel(carrier, labelId);
    if (!label) throw new HttpProblem(404, 'label_not_found', 'Label not found', `No ${carrier} label ${labelId}.`);
    res.json(label);
  });

  // --- notifications ------------------------------------------------------------------------------------------

  app.post('/notifications', async (req, res) => {
    if (!(await admit(req, res, 'notifications'))) return;
    const key = idempotencyKey(req);
    const input = parse(notificationBody, req.body, 'notification');
    const outcome = await store.idempotent('notifications', key, requestHash(input), async (tx) => {
      const message = await store.insertNotification(tx, { id: newId('msg'), ...input, idempotencyKey: key });
      return { status: 202, body: { id: message.id, orderId: message.orderId, channel: message.channel } };
    });
    await replyOutcome(res, 'notifications', outcome);
  });

  app.get('/notifications', async (req, res) => {
    if (!(await admit(req, res, 'notifications'))) return;
    const { orderId } = parse(orderQuery, req.query, 'query');
    res.json({ data: await store.listNotifications(orderId) });
  });

  // --- fallbacks ----------------------------------------------------------------------------------------------

  app.use((req: Request, res: Response) => {
    send(res, problem(404, 'not_found', 'Not found', `No route for ${req.method} ${req.path}.`));
  });

  app.use((error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    if (error instanceof HttpProblem) {
      return send(res, problem(error.status, error.type, error.title, error.detail));
    }
    // body-parser errors (malformed JSON, body too large) carry their own 4xx status.
    const clientError = errorStatus(error);
    if (clientError) {
      const type = clientError.type === 'entity.parse.failed' ? 'invalid_json' : clientError.type;
      return send(res, problem(clientError.status, type, 'Bad request', (error as Error).message));
    }
    deps.logger?.error({ err: error, method: req.method, path: req.path }, 'sandbox request failed');
    send(res, problem(500, 'internal_error', 'Internal error', 'The sandbox failed to handle the request.'));
  });

  return app;
}

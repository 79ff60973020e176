import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { easypostRouter } from './easypost';
import { InvalidFaultsError, parseFaultsUpdate, type FaultInjector } from './faults';
import { pathParam } from './http';
import type { SandboxStore } from './store';
import { stripeRouter } from './stripe';

/** The subset of a pino logger the sandbox uses; omit it to stay silent. */
export interface SandboxLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** What the sandbox app needs: its records, its fault knobs, where it is reached, and optionally a logger. */
export interface SandboxAppDeps {
  store: SandboxStore;
  faults: FaultInjector;
  /** The sandbox's own base URL (label URLs point there); known once it listens. */
  baseUrl: () => string;
  /** Port of the SMTP listener, reported by `GET /_mail`. */
  smtpPort: () => number;
  logger?: SandboxLogger;
}

/** The same strict HTML policy as the API's receipt: a message's HTML is shown, never allowed to run anything. */
const HTML_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
  'X-Content-Type-Options': 'nosniff',
};

const text = z.string().trim().min(1).max(500);

function problem(res: Response, status: number, type: string, detail: string): void {
  res
    .status(status)
    .type('application/problem+json')
    .send(JSON.stringify({ type, title: type, status, detail }));
}

function query<T>(schema: z.ZodType<T>, req: Request): T {
  const parsed = schema.safeParse(req.query);
  if (parsed.success) return parsed.data;
  throw Object.assign(new Error(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')), {
    status: 400,
  });
}

/**
 * The provider sandbox as an Express app (not listening; see server.ts):
 *
 * - `/v1/*`: Stripe's API, the subset the payment adapter uses (src/sandbox/stripe.ts);
 * - `/v2/*`: EasyPost's API, the subset the shipping adapter uses (src/sandbox/easypost.ts);
 * - `/_faults`, `/_stats`, `/_records/*`: the operator side (fault knobs, the records as the providers hold them);
 * - `/_mail/*`: what the SMTP listener (src/sandbox/smtp.ts) received, over HTTP.
 */
export function createSandboxApp(deps: SandboxAppDeps): express.Express {
  const { store, faults } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use('/v1', stripeRouter(store, faults));
  app.use('/v2', easypostRouter(store, faults, deps.baseUrl));

  const admin = express.Router();
  admin.use(express.json({ limit: '64kb' }));

  admin.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });

  admin.get('/_faults', (_req, res) => {
    res.json(faults.snapshot());
  });
  admin.put('/_faults', (req, res) => {
    try {
      res.json(faults.update(parseFaultsUpdate(req.body ?? {})));
    } catch (error) {
      if (error instanceof InvalidFaultsError) return problem(res, 400, 'invalid_request', error.message);
      throw error;
    }
  });
  admin.delete('/_faults', (_req, res) => {
    res.json(faults.clear());
  });

  admin.get('/_stats', async (_req, res) => {
    res.json(await store.stats());
  });

  admin.get('/_records/payment-intents', async (req, res) => {
    const { orderId } = query(z.object({ orderId: text }), req);
    res.json({ data: await store.listPaymentIntents(orderId) });
  });
  admin.get('/_records/refunds', async (req, res) => {
    const { orderId } = query(z.object({ orderId: text }), req);
    res.json({ data: await store.listRefunds(orderId) });
  });
  admin.get('/_records/shipments', async (req, res) => {
    const { reference } = query(z.object({ reference: text }), req);
    res.json({ data: await store.listShipments(reference) });
  });

  admin.get('/_mail', (_req, res) => {
    res.json({ smtp: { port: deps.smtpPort() }, messages: '/_mail/messages' });
  });
  admin.get('/_mail/messages', async (req, res) => {
    const filter = query(z.object({ orderId: text.optional(), kind: text.optional(), to: text.optional() }), req);
    res.json({ data: await store.listMessages(filter) });
  });
  admin.get('/_mail/messages/:id', async (req, res) => {
    const message = await store.getMessage(pathParam(req, 'id'));
    if (!message) return problem(res, 404, 'not_found', `No message ${pathParam(req, 'id')}.`);
    res.json(message);
  });
  admin.get('/_mail/messages/:id/html', async (req, res) => {
    const message = await store.getMessage(pathParam(req, 'id'));
    if (!message?.html) return problem(res, 404, 'not_found', `No HTML body for message ${pathParam(req, 'id')}.`);
    res.status(200).set(HTML_HEADERS).type('text/html; charset=utf-8').send(message.html);
  });

  app.use(admin);

  app.use((req: Request, res: Response) => {
    problem(res, 404, 'not_found', `No route for ${req.method} ${req.path}.`);
  });

  app.use((error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    const status = (error as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return problem(res, status, 'invalid_request', (error as Error).message);
    }
    deps.logger?.error({ err: error, method: req.method, path: req.path }, 'sandbox request failed');
    res.status(500).json({ error: { type: 'api_error', message: 'The sandbox failed to handle the request.' } });
  });

  return app;
}

import { createHash, timingSafeEqual } from 'node:crypto';
import type { Server } from 'node:http';
import express, { type ErrorRequestHandler, type Express, type Request, type RequestHandler } from 'express';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';
import type { Logger } from '../lib/logger';
import { PayloadDecryptionError, UnknownPayloadKeyError } from './codec';

/**
 * The codec server: Temporal's remote codec protocol over HTTP, so the Web UI and the `temporal` CLI can show (and
 * send) the payloads the project's clients and workers encrypt, to operators who hold the token.
 *
 *   POST /encode, POST /decode     body and answer `{"payloads":[{"metadata":{"encoding":"<base64>"},"data":"<base64>"}]}`
 *                                  (Payload in proto JSON: bytes as base64); `X-Namespace` names the namespace
 *   Authorization: Bearer <token>  required on both (the CLI: --codec-auth 'Bearer <token>')
 *   POST /ui/<token>/encode|decode the same, the token carried in the path: for a Web UI that cannot send a header of
 *                                  its own (the dev server's, whose --ui-codec-endpoint is this URL)
 *   GET /healthz                   liveness, no token, no data
 *
 * Browsers may call it only from the configured Web UI origins (CORS, preflight included; credentials allowed, as the
 * UI sends them when its "include cross-origin credentials" setting is on). A request from another origin is refused
 * with 403, one without a valid token with 401. Neither payloads nor tokens are logged.
 */
export interface CodecServerOptions {
  codec: PayloadCodec;
  /** The bearer token; compared in constant time. */
  token: string;
  /** The namespace whose payloads this server encodes; a request naming another in X-Namespace is refused. */
  namespace: string;
  /** Web UI origins allowed to call from a browser, e.g. `http://127.0.0.1:8233`. */
  corsOrigins: readonly string[];
  log: Logger;
}

export interface RunningCodecServer {
  url: string;
  port: number;
  server: Server;
  close: () => Promise<void>;
}

/** Temporal's payload limit is 2 MB each; a request carries the payloads of one event or one call. */
const BODY_LIMIT = '16mb';
const ALLOWED_HEADERS = 'Authorization, Authorization-Extras, Content-Type, X-Namespace';
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

const base64 = z.string().regex(BASE64, 'must be base64');
const payloadsBody = z.object({
  payloads: z
    .array(z.object({ metadata: z.record(z.string(), base64).optional(), data: base64.optional() }))
    .max(10_000)
    // Proto JSON leaves out an empty repeated field: `{}` is zero payloads (a query without arguments).
    .default([]),
});
type JsonPayload = z.infer<typeof payloadsBody>['payloads'][number];

class CodecProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

const fromBase64 = (value: string): Uint8Array => Buffer.from(value, 'base64');
const toBase64 = (value: Uint8Array | null | undefined): string => Buffer.from(value ?? []).toString('base64');

export function payloadFromJson(json: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(json.metadata ?? {}).map(([key, value]) => [key, fromBase64(value)])),
    data: fromBase64(json.data ?? ''),
  };
}

export function payloadToJson(payload: Payload): { metadata: Record<string, string>; data: string } {
  return {
    metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, toBase64(value)])),
    data: toBase64(payload.data),
  };
}

function sameSecret(given: string, expected: string): boolean {
  // Digests first: timingSafeEqual needs equal lengths, and the length of the token must not leak either.
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** Answer CORS for the allowed Web UI origins; refuse other origins (and their preflights) outright. */
function cors(origins: ReadonlySet<string>): RequestHandler {
  return (req, res, next) => {
    const origin = req.header('origin');
    if (origin === undefined) return next();
    if (!origins.has(origin)) {
      return next(new CodecProblem(403, 'Origin not allowed', `Origin ${origin} may not call this codec server`));
    }
    res.vary('Origin');
    res.set({ 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true' });
    if (req.method !== 'OPTIONS') return next();
    res
      .set({
        'Access-Control-Allow-Methods': 'POST, OPTIONS',
        'Access-Control-Allow-Headers': ALLOWED_HEADERS,
        'Access-Control-Max-Age': '600',
      })
      .status(204)
      .end();
  };
}

type Operation = 'encode' | 'decode';
interface Route {
  operation: Operation;
  /** The token the request carries, and how. */
  token?: string;
  via: 'bearer' | 'path';
}

/** `/encode`, `/decode` (bearer token) or `/ui/<token>/encode|decode` (path token); undefined for anything else. */
function routeOf(req: Request): Route | undefined {
  const path = req.path.replace(/\/+$/, '');
  const plain = /^\/(encode|decode)$/.exec(path);
  if (plain) {
    const header = req.header('authorization') ?? '';
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    return { operation: plain[1] as Operation, via: 'bearer', ...(bearer ? { token: bearer } : {}) };
  }
  const ui = /^\/ui\/([^/]+)\/(encode|decode)$/.exec(path);
  if (ui) return { operation: ui[2] as Operation, via: 'path', token: ui[1] as string };
  return undefined;
}

function unauthorized(detail: string, error?: 'invalid_token'): CodecProblem {
  const challenge = `Bearer realm="harvest-to-door codec"${error ? `, error="${error}"` : ''}`;
  return new CodecProblem(401, 'Unauthorized', detail, { 'WWW-Authenticate': challenge });
}

function codecHandler(options: CodecServerOptions): RequestHandler {
  return async (req, res, next) => {
    const route = routeOf(req);
    if (!route) return next();
    const started = process.hrtime.bigint();
    try {
      if (req.method !== 'POST') throw new CodecProblem(405, 'Method not allowed', 'Use POST');
      if (!route.token) {
        throw unauthorized("Send the codec server's token as `Authorization: Bearer <token>`");
      }
      if (!sameSecret(route.token, options.token)) throw unauthorized('The token is not valid', 'invalid_token');
      const namespace = req.header('x-namespace');
      if (namespace !== undefined && namespace !== options.namespace) {
        throw new CodecProblem(403, 'Wrong namespace', `This codec server serves namespace ${options.namespace} only`);
      }
      const parsed = payloadsBody.safeParse(req.body);
      if (!parsed.success) {
        const where = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`);
        throw new CodecProblem(400, 'Invalid request', `Expected {"payloads":[...]}: ${where.slice(0, 5).join('; ')}`);
      }
      const payloads = parsed.data.payloads.map(payloadFromJson);
      const converted = await convert(options.codec, route.operation, payloads);
      res.json({ payloads: converted.map(payloadToJson) });
      options.log.info(
        {
          operation: route.operation,
          via: route.via,
          namespace: namespace ?? options.namespace,
          payloads: payloads.length,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
        },
        'codec request',
      );
    } catch (error) {
      next(error);
    }
  };
}

async function convert(codec: PayloadCodec, operation: Operation, payloads: Payload[]): Promise<Payload[]> {
  try {
    return operation === 'encode' ? await codec.encode(payloads) : await codec.decode(payloads);
  } catch (error) {
    if (error instanceof UnknownPayloadKeyError || error instanceof PayloadDecryptionError) {
      throw new CodecProblem(422, 'Cannot decode', error.message);
    }
    throw error;
  }
}

/** Every failure leaves as application/problem+json; the request path is not echoed (it can hold the token). */
function problemHandler(log: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    if (res.headersSent) return;
    const http = error as { type?: string; status?: number };
    const problem =
      error instanceof CodecProblem
        ? error
        : http.type === 'entity.too.large'
          ? new CodecProblem(413, 'Payload too large', `Request bodies are limited to ${BODY_LIMIT}`)
          : http.type === 'entity.parse.failed'
            ? new CodecProblem(400, 'Malformed body', 'The body is not valid JSON')
            : typeof http.status === 'number' && http.status >= 400 && http.status < 500
              ? new CodecProblem(http.status, 'Bad request', 'The request could not be read')
              : undefined;
    if (!problem) log.error({ err: error, method: req.method }, 'codec server error');
    const sent = problem ?? new CodecProblem(500, 'Internal error', 'Something went wrong on our side; it was logged');
    if (sent.status === 401 || sent.status === 403) {
      log.warn({ status: sent.status, method: req.method, origin: req.header('origin') }, 'codec request refused');
    }
    res
      .status(sent.status)
      .set(sent.headers)
      .type('application/problem+json')
      .json({ type: 'about:blank', title: sent.title, status: sent.status, detail: sent.detail });
  };
}

/** The codec server as an Express app (no listener): tests drive it directly, startCodecServer listens. */
export function createCodecApp(options: CodecServerOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.use(cors(new Set(options.corsOrigins)));
  // Any content type: the Go SDK's remote codec (the CLI's) and the Web UI both send JSON, not always labelled alike.
  app.use(express.json({ limit: BODY_LIMIT, type: () => true }));
  app.use(codecHandler(options));
  app.use((_req, _res, next) => next(new CodecProblem(404, 'Not found', 'POST /encode or POST /decode')));
  app.use(problemHandler(options.log));
  return app;
}

/** Listen on host:port (0: a free port); resolves once it accepts connections. */
export async function startCodecServer(
  options: CodecServerOptions & { host: string; port: number },
): Promise<RunningCodecServer> {
  const app = createCodecApp(options);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(options.port, options.host, (error?: Error) => (error ? reject(error) : resolve(s)));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
  return {
    url,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

import express, { type Express } from 'express';
import type { Client } from '@temporalio/client';
import type { Db } from '../db/client';
import type { Logger } from '../lib/logger';
import { authenticate, type Principal } from './auth';
import { customersRouter } from './customers/router';
import { ALL_ROUTES } from './docs/openapi';
import { docsRouter } from './docs/router';
import { harvestRouter } from './harvest/router';
import { healthRouter } from './health/router';
import { homeRouter } from './home/router';
import { createMetrics } from './metrics';
import { allowedMethods } from './methods';
import { requestLog } from './request-log';
import { ordersRouter } from './orders/router';
import { errorHandler, notFoundHandler } from './problem';
import { productsRouter } from './products/router';
import { rateLimit } from './rate-limit';
import { JSON_TYPES } from './validate';

export interface AppDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  apiKeys: Map<string, Principal>;
  log: Logger;
  currency?: string;
  /** Requests per minute per API key; unlimited when unset. */
  rateLimitPerMinute?: number;
  /** How long `POST /orders` waits for the workflow to reserve the stock (default 10 s). */
  acceptTimeoutMs?: number;
  /** The Temporal Web UI, linked from GET /; no link when unset. */
  temporalUiUrl?: string;
}

/** The HTTP API as an Express app; server.ts listens, tests drive it with supertest. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  // Counted and logged before the body is parsed, so a 400/413/415 from the parser is seen too.
  const metrics = createMetrics(deps.db);
  app.use(metrics.track);
  app.use(requestLog(deps.log));
  // A wrong method is 405 whoever asks and whatever the body: decided before the key and the body are read.
  app.use(allowedMethods(ALL_ROUTES));
  app.use(express.json({ limit: '64kb', strict: true, type: JSON_TYPES }));

  // No key needed: the index, probes, metrics and the API's own documentation.
  app.use(homeRouter(deps));
  app.use(healthRouter(deps));
  app.use(metrics.router);
  app.use(docsRouter());

  app.use(authenticate(deps.apiKeys));
  if (deps.rateLimitPerMinute) app.use(rateLimit(deps.rateLimitPerMinute));
  app.use(productsRouter(deps));
  app.use(ordersRouter({ ...deps, currency: deps.currency ?? 'USD', acceptTimeoutMs: deps.acceptTimeoutMs ?? 10_000 }));
  app.use(customersRouter(deps));
  app.use(harvestRouter(deps));
  app.use(notFoundHandler);
  app.use(errorHandler(deps.log));
  return app;
}

import express, { type Express } from 'express';
import type { Client } from '@temporalio/client';
import type { Db } from '../db/client';
import type { Logger } from '../lib/logger';
import { authenticate, type Principal } from './auth';
import { harvestRouter } from './harvest/router';
import { ordersRouter } from './orders/router';
import { errorHandler, notFoundHandler } from './problem';
import { productsRouter } from './products/router';
import { rateLimit } from './rate-limit';

export interface AppDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  apiKeys: Map<string, Principal>;
  log: Logger;
  currency?: string;
  /** Requests per minute per API key; unlimited when unset. */
  rateLimitPerMinute?: number;
}

/** The HTTP API as an Express app; server.ts listens, tests drive it with supertest. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(express.json({ limit: '64kb', strict: true, type: ['application/json', 'application/*+json'] }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const checks = await Promise.all([
      deps.db.$queryRaw`SELECT 1`.then(
        () => 'ok' as const,
        (e: Error) => e.message,
      ),
      deps.temporal.workflowService.getSystemInfo({}).then(
        () => 'ok' as const,
        (e: Error) => e.message,
      ),
    ]);
    const [database, temporal] = checks;
    const ready = database === 'ok' && temporal === 'ok';
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not-ready', checks: { database, temporal } });
  });

  app.use(authenticate(deps.apiKeys));
  if (deps.rateLimitPerMinute) app.use(rateLimit(deps.rateLimitPerMinute));
  app.use(productsRouter(deps));
  app.use(ordersRouter({ ...deps, currency: deps.currency ?? 'USD' }));
  app.use(harvestRouter(deps));
  app.use(notFoundHandler);
  app.use(errorHandler(deps.log));
  return app;
}

import type { Server } from 'node:http';
import { loadConfig, type Config } from '../config';
import { createDb } from '../db/client';
import { createLogger } from '../lib/logger';
import { connectClient } from '../lib/temporal';
import { clientInterceptors, createTracing, httpTracing } from '../lib/tracing';
import express from 'express';
import { createApp } from './app';
import { DEMO_KEYS, parseApiKeys } from './auth';

/** Start the API on the configured host and port; resolves once it listens. */
export async function startApi(config: Config): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  const log = createLogger('api', config.LOG_LEVEL);
  if (!config.DATABASE_URL) throw new Error('DATABASE_URL is required for the API (npm start sets it for you)');
  if (!config.API_KEYS && config.NODE_ENV === 'production') {
    throw new Error('API_KEYS must be set in production: no default keys are accepted there');
  }
  const db = createDb(config.DATABASE_URL, config.DATABASE_POOL_SIZE);
  const tracing = createTracing('harvest-api', config);
  const temporal = await connectClient(config, clientInterceptors(tracing));
  const app = createApp({
    db,
    temporal,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    apiKeys: parseApiKeys(config.API_KEYS ?? DEMO_KEYS),
    log,
    rateLimitPerMinute: config.RATE_LIMIT_PER_MINUTE,
    acceptTimeoutMs: config.ORDER_ACCEPT_TIMEOUT_MS,
    temporalUiUrl: config.TEMPORAL_UI_URL,
  });
  // Tracing wraps the whole app so every request (and the workflow it starts) gets a span.
  const root = express().disable('x-powered-by').use(httpTracing(tracing)).use(app);
  const server = await new Promise<Server>((resolve) => {
    const s = root.listen(config.API_PORT, config.API_HOST, () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.API_PORT;
  const url = `http://${config.API_HOST}:${port}`;
  log.info({ url }, 'api listening');
  return {
    server,
    url,
    close: async () => {
      // Stop accepting, let in-flight requests finish, then release the pools.
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await temporal.connection.close();
      await db.$disconnect();
      await tracing.shutdown();
    },
  };
}

if (require.main === module) {
  const config = loadConfig();
  startApi(config)
    .then(({ close }) => {
      const stop = () => void close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    })
    .catch((error) => {
      console.error(error);
      process.exit(1);
    });
}

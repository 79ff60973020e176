/**
 * The order worker with tuned WorkerOptions, for tuning experiments only (`npm run bench -- --worker-options '{...}'`).
 * It is src/worker.ts's main() with BENCH_WORKER_OPTIONS (JSON) merged into the options; without that flag the
 * bench runs src/worker.ts itself.
 */
import { DefaultLogger, Runtime, type LogLevel, type WorkerOptions } from '@temporalio/worker';
import { loadConfig } from '../src/config';
import { dataConverterFor } from '../src/codec/data-converter';
import { createDb } from '../src/db/client';
import { createLogger } from '../src/lib/logger';
import { connectWorker } from '../src/lib/temporal';
import { createTracing, workerTracingOptions } from '../src/lib/tracing';
import { workflowBundleFor } from '../src/lib/workflow-bundle';
import { createHttpProviders } from '../src/providers/http';
import { createWorker } from '../src/worker';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger('worker', config.LOG_LEVEL);
  const levels: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
    TRACE: 'trace',
    DEBUG: 'debug',
    INFO: 'info',
    WARN: 'warn',
    ERROR: 'error',
  };
  Runtime.install({
    logger: new DefaultLogger('INFO', (entry) => log[levels[entry.level]]({ ...entry.meta, sdk: true }, entry.message)),
  });
  if (!config.DATABASE_URL || !config.SANDBOX_URL) throw new Error('DATABASE_URL and SANDBOX_URL are required');
  const overrides = JSON.parse(process.env.BENCH_WORKER_OPTIONS ?? '{}') as Partial<WorkerOptions>;
  const db = createDb(config.DATABASE_URL, config.DATABASE_POOL_SIZE);
  const connection = await connectWorker(config);
  const tracing = createTracing('harvest-worker', config);
  const worker = await createWorker({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    dataConverter: await dataConverterFor(config),
    deps: {
      db,
      providers: createHttpProviders({ baseUrl: config.SANDBOX_URL, timeoutMs: config.PROVIDER_TIMEOUT_MS }),
    },
    workflowBundlePath: config.WORKFLOW_BUNDLE_PATH && workflowBundleFor(config.WORKFLOW_BUNDLE_PATH, tracing.enabled),
    options: { ...workerTracingOptions(tracing, config.WORKFLOW_BUNDLE_PATH !== undefined), ...overrides },
  });
  log.info({ overrides }, 'bench order worker started');
  await worker.run();
  await connection.close();
  await db.$disconnect();
  await tracing.shutdown();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

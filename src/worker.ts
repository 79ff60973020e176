import {
  DefaultLogger,
  Runtime,
  Worker,
  type LogLevel,
  type NativeConnection,
  type WorkerOptions,
} from '@temporalio/worker';
import type { DataConverter } from '@temporalio/common';
import { createActivities, type ActivityDeps } from './activities';
import { dataConverterFor } from './codec/data-converter';
import { loadConfig } from './config';
import { createDb } from './db/client';
import { createLogger } from './lib/logger';
import { connectWorker } from './lib/temporal';
import { createTracing, workerTracingOptions } from './lib/tracing';
import { workflowBundleFor } from './lib/workflow-bundle';
import { createHttpProviders } from './providers/http';

export interface WorkerSetup {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** The project's DataConverter (src/codec/data-converter.ts): the payload codec and the failure converter. */
  dataConverter: DataConverter;
  /** A prebuilt bundle (production); without it the workflows are bundled at start-up. */
  workflowBundlePath?: string;
  options?: Partial<WorkerOptions>;
}

/** Build the order worker: workflows from src/workflows, activities from the injected dependencies. */
export function createWorker(setup: WorkerSetup): Promise<Worker> {
  return Worker.create({
    connection: setup.connection,
    namespace: setup.namespace,
    taskQueue: setup.taskQueue,
    dataConverter: setup.dataConverter,
    ...(setup.workflowBundlePath
      ? { workflowBundle: { codePath: setup.workflowBundlePath } }
      : { workflowsPath: require.resolve('./workflows') }),
    activities: createActivities(setup.deps),
    // On SIGTERM, in-flight activities get this long to finish before they are cancelled and handed back.
    shutdownGraceTime: '10 seconds',
    ...setup.options,
  });
}

/**
 * Install the SDK runtime: its Prometheus metrics endpoint, and its own logs (worker state, workflow `log.*` calls, activity logs) into our pino
 * logger, so every process writes one JSON format. Workflow and activity entries carry
 * workflowId, runId and activity type in their metadata.
 */
function installSdkRuntime(log: ReturnType<typeof createLogger>, metricsAddress: string | undefined): void {
  const levels: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
    TRACE: 'trace',
    DEBUG: 'debug',
    INFO: 'info',
    WARN: 'warn',
    ERROR: 'error',
  };
  Runtime.install({
    // The SDK's own worker metrics (task latencies, slots, cache, polls) on a Prometheus endpoint.
    ...(metricsAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress: metricsAddress } } } } : {}),
    logger: new DefaultLogger('INFO', (entry) => {
      log[levels[entry.level]]({ ...entry.meta, sdk: true }, entry.message);
    }),
  });
}

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger('worker', config.LOG_LEVEL);
  installSdkRuntime(log, config.WORKER_METRICS_ADDRESS);
  if (!config.DATABASE_URL) throw new Error('DATABASE_URL is required for the worker (npm start sets it for you)');
  if (!config.SANDBOX_URL) throw new Error('SANDBOX_URL is required for the worker (npm start sets it for you)');
  // Keys first: a worker without them must fail before it polls.
  const dataConverter = await dataConverterFor(config);
  const db = createDb(config.DATABASE_URL, config.DATABASE_POOL_SIZE);
  const connection = await connectWorker(config);
  const tracing = createTracing('harvest-worker', config);
  const worker = await createWorker({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    dataConverter,
    deps: {
      db,
      providers: createHttpProviders({ baseUrl: config.SANDBOX_URL, timeoutMs: config.PROVIDER_TIMEOUT_MS }),
    },
    workflowBundlePath: config.WORKFLOW_BUNDLE_PATH && workflowBundleFor(config.WORKFLOW_BUNDLE_PATH, tracing.enabled),
    options: workerTracingOptions(tracing, config.WORKFLOW_BUNDLE_PATH !== undefined),
  });
  log.info(
    {
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      namespace: config.TEMPORAL_NAMESPACE,
      payloadEncryption: dataConverter.payloadCodecs?.length ? 'on' : 'off',
    },
    'worker started',
  );
  // The SDK's runtime turns SIGINT/SIGTERM into a graceful shutdown: no new tasks are polled and
  // in-flight activities get the shutdown grace time to finish; run() resolves afterwards.
  await worker.run();
  await connection.close();
  await db.$disconnect();
  await tracing.shutdown();
  log.info('worker stopped');
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}

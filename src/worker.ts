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
import { loadConfig, type Config } from './config';
import { createDb } from './db/client';
import { createLogger } from './lib/logger';
import { connectWorker } from './lib/temporal';
import { createTracing, workerTracingOptions } from './lib/tracing';
import { workflowBundleFor } from './lib/workflow-bundle';
import { setCurrentVersion, workerDeploymentOptions } from './lib/worker-deployment';
import { createProviders } from './providers';

export interface WorkerSetup {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** The project's DataConverter (src/codec/data-converter.ts): the payload codec and the failure converter. */
  dataConverter: DataConverter;
  /** A prebuilt bundle (production); without it the workflows are bundled at start-up. */
  workflowBundlePath?: string;
  /** The worker deployment and build this worker belongs to; without it the worker is unversioned (tests). */
  deployment?: { name: string; buildId: string };
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
    ...(setup.deployment
      ? { workerDeploymentOptions: workerDeploymentOptions(setup.deployment.name, setup.deployment.buildId) }
      : {}),
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

/**
 * Run the order worker of a configuration until SIGINT/SIGTERM: `npm run worker`, `npm start`, the benchmark and the
 * chaos suite all run this. `WORKER_OPTIONS_JSON` (tuning experiments) is merged over the worker's own options.
 */
export async function runWorker(config: Config = loadConfig()): Promise<void> {
  const log = createLogger('worker', config.LOG_LEVEL);
  installSdkRuntime(log, config.WORKER_METRICS_ADDRESS);
  if (!config.DATABASE_URL) throw new Error('DATABASE_URL is required for the worker (npm start sets it for you)');
  // Keys first: a worker without them must fail before it polls.
  const dataConverter = await dataConverterFor(config);
  const { providers, targets, close: closeProviders } = createProviders(config);
  log.info(
    targets,
    `providers: payments to ${targets.payments}, labels to ${targets.shipping}, e-mail to ${targets.mail}`,
  );
  const db = createDb(config.DATABASE_URL, config.DATABASE_POOL_SIZE);
  const connection = await connectWorker(config);
  const tracing = createTracing('harvest-worker', config);
  const overrides = (config.WORKER_OPTIONS_JSON ?? {}) as Partial<WorkerOptions>;
  const worker = await createWorker({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    dataConverter,
    deps: { db, providers },
    workflowBundlePath: config.WORKFLOW_BUNDLE_PATH && workflowBundleFor(config.WORKFLOW_BUNDLE_PATH, tracing.enabled),
    deployment: config.TEMPORAL_WORKER_BUILD_ID
      ? { name: config.TEMPORAL_DEPLOYMENT_NAME, buildId: config.TEMPORAL_WORKER_BUILD_ID }
      : undefined,
    options: { ...workerTracingOptions(tracing, config.WORKFLOW_BUNDLE_PATH !== undefined), ...overrides },
  });
  const buildId = config.TEMPORAL_WORKER_BUILD_ID;
  if (buildId && config.TEMPORAL_SET_CURRENT_VERSION) {
    // Once this worker polls, its build exists in the deployment; making it current routes new orders to it and
    // moves waiting ones (AUTO_UPGRADE). A rollout that ramps or checks first leaves this off and uses the CLI.
    void setCurrentVersion(connection.workflowService, {
      namespace: config.TEMPORAL_NAMESPACE,
      deploymentName: config.TEMPORAL_DEPLOYMENT_NAME,
      buildId,
      identity: `worker ${process.pid}`,
      timeoutMs: 60_000,
    }).then(
      () => log.info({ deployment: config.TEMPORAL_DEPLOYMENT_NAME, buildId }, 'this build is the current version'),
      (error: unknown) => {
        log.error({ err: error }, 'could not make this build the current version; stopping');
        worker.shutdown();
      },
    );
  }
  log.info(
    {
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      namespace: config.TEMPORAL_NAMESPACE,
      deployment: buildId ? `${config.TEMPORAL_DEPLOYMENT_NAME}/${buildId}` : 'unversioned',
      overrides,
      payloadEncryption: dataConverter.payloadCodecs?.length ? 'on' : 'off',
    },
    'worker started',
  );
  // The SDK's runtime turns SIGINT/SIGTERM into a graceful shutdown: no new tasks are polled and
  // in-flight activities get the shutdown grace time to finish; run() resolves afterwards.
  await worker.run();
  closeProviders();
  await connection.close();
  await db.$disconnect();
  await tracing.shutdown();
  log.info('worker stopped');
}

if (require.main === module) {
  runWorker().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}

/**
 * The system under test, booted as `npm start` boots it (src/stack/embedded.ts) but on free ports and in a temporary
 * folder: embedded PostgreSQL (with pg_stat_statements, so the bench can count the statements an order costs), a real
 * `temporal server start-dev` with a --db-filename, the provider sandbox (zero latency, no faults), the order worker
 * and the HTTP API as separate processes, plus the ceiling worker for the bench workflows. Every process is known by
 * its pid so /proc can measure it; any of them dying ends the run (the figures would be wrong).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { bundleWorkflowCode } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../../src/codec/data-converter';
import { Client as PgClient } from 'pg';
import { createDb, type Db } from '../../src/db/client';
import { PROJECT_ROOT } from '../../src/lib/binaries';
import { nodeProcess } from '../../src/stack/components';
import { startEmbeddedStack, type EmbeddedStack } from '../../src/stack/embedded';
import type { ManagedProcess, ProcessSpec } from '../../src/stack/supervisor';

export const ORDER_TASK_QUEUE = 'harvest-to-door';
export const CEILING_TASK_QUEUE = 'bench-ceiling';
export const STUB_TASK_QUEUE = 'bench-order-stubs';
const NAMESPACE = 'default';

export interface StackOptions {
  /** Temporary folder for every data file and log. */
  dir: string;
  /** DATABASE_POOL_SIZE of worker and API. */
  poolSize: number;
  /** Prebuild the workflow bundles (production: WORKFLOW_BUNDLE_PATH); false: each worker bundles at start-up. */
  prebuiltBundles: boolean;
  /** WorkerOptions overrides (WORKER_OPTIONS_JSON) for the order worker and the ceiling workers. */
  workerOptions?: Record<string, unknown>;
  /** `--sqlite-pragma` values for the dev server (undefined: as `npm start`). */
  sqlitePragmas?: readonly string[];
  /** Experiment only: keep Temporal's state in memory (no --db-filename), unlike `npm start`. */
  temporalInMemory?: boolean;
  /** Write V8 CPU profiles of the worker and the API into this folder. */
  cpuProfileDir?: string;
  /** Extra environment for worker and API (e.g. LOG_LEVEL). */
  env?: NodeJS.ProcessEnv;
  say: (message: string) => void;
}

export interface BenchStack {
  temporalAddress: string;
  namespace: string;
  apiUrl: string;
  databaseUrl: string;
  /** Bench-side clients: Temporal (gRPC, through the run's payload codec) and PostgreSQL (for counts and timestamps). */
  client: Client;
  db: Db;
  /** Payloads are encrypted as in production: this run's key (worker, API, ceiling worker) and DataConverter. */
  codec: { payloadKeys: string; dataConverter: DataConverter };
  /** The environment worker and API run with, for scenarios that start processes of their own (spawnApp). */
  appEnv: NodeJS.ProcessEnv;
  /** Start one more of our processes (src/worker.ts, src/api/server.ts) under the stack's supervisor. */
  spawnApp: (
    name: string,
    entry: string,
    env: NodeJS.ProcessEnv,
    ready: ProcessSpec['ready'],
  ) => Promise<ManagedProcess>;
  pids: Record<'temporal' | 'postgres' | 'worker' | 'api' | 'sandbox' | 'ceilingWorker', number>;
  versions: { temporal: string; postgres: string };
  /** Stop in reverse order of start; safe to call more than once. */
  stop: () => Promise<void>;
}

let running: EmbeddedStack | undefined;
let onUnexpectedExit: (name: string, detail: string) => void = () => undefined;

/** Called when a child dies while the bench still needs it. */
export function setUnexpectedExitHandler(handler: (name: string, detail: string) => void): void {
  onUnexpectedExit = handler;
}

/** Stop everything started so far, newest first. */
export async function stopAll(): Promise<void> {
  await running?.stop();
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(`[bundler] ${message}`),
  error: (message: string) => console.error(`[bundler] ${message}`),
};

async function bundleCeilings(file: string): Promise<void> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(PROJECT_ROOT, 'bench', 'workflows', 'index.ts'),
    failureConverterPath: FAILURE_CONVERTER_PATH,
    logger: quietBundlerLogger,
  });
  fs.writeFileSync(file, code);
}

export async function startStack(options: StackOptions): Promise<BenchStack> {
  const { dir, say } = options;
  // Bundling is CPU work in this process; it overlaps the servers' start-up.
  const ceilingBundle = path.join(dir, 'ceiling-workflows.js');
  const bundling = options.prebuiltBundles ? bundleCeilings(ceilingBundle) : Promise.resolve();
  bundling.catch(() => undefined);

  const stack = await startEmbeddedStack({
    dataDir: dir,
    namespace: NAMESPACE,
    taskQueue: ORDER_TASK_QUEUE,
    temporalPersistence: options.temporalInMemory ? 'memory' : 'file',
    sqlitePragmas: options.sqlitePragmas,
    postgresSettings: { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.max': '10000' },
    poolSize: options.poolSize,
    workerOptions: options.workerOptions,
    prebuiltBundle: options.prebuiltBundles,
    cpuProfileDir: options.cpuProfileDir,
    env: {
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      SANDBOX_FAULTS: '',
      // The per-key limit (600/min by default) would turn the load test into a 429 test.
      RATE_LIMIT_PER_MINUTE: '1000000000',
      OTEL_TRACES_EXPORTER: 'none',
      CREW_SIMULATOR_DELAY_MS: '0',
      WORKER_METRICS_ADDRESS: undefined,
      API_KEYS: undefined,
      // Every provider goes to the sandbox, whatever credentials the shell holds.
      STRIPE_SECRET_KEY: undefined,
      SMTP_URL: undefined,
      EASYPOST_API_KEY: undefined,
      ...options.env,
    },
    onUnexpectedExit: 'stop',
    onExit: (exit) => onUnexpectedExit(exit.name, `exited (${exit.detail})`),
    codec: 'ephemeral',
    say,
  });
  running = stack;
  const { supervisor } = stack;

  const harvest = new PgClient({ connectionString: stack.databaseUrl });
  await harvest.connect();
  await harvest.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  await harvest.end();
  const db = createDb(stack.databaseUrl, 4);
  supervisor.add({ name: 'bench-db', stop: () => db.$disconnect() });
  // The demo stock (hundreds of units) would run out within seconds; the bench needs stock that never does.
  await db.$executeRaw`UPDATE products SET available = 1000000000`;

  await bundling;
  const ceiling = await supervisor.run(
    nodeProcess({
      name: 'ceiling-worker',
      entry: 'bench/ceiling-worker.ts',
      env: {
        ...stack.env,
        BENCH_TASK_QUEUE: CEILING_TASK_QUEUE,
        BENCH_STUB_TASK_QUEUE: STUB_TASK_QUEUE,
        ...(options.workerOptions ? { WORKER_OPTIONS_JSON: JSON.stringify(options.workerOptions) } : {}),
        ...(options.prebuiltBundles ? { BENCH_WORKFLOW_BUNDLE: ceilingBundle } : {}),
      },
      ready: { line: 'ceiling worker started', timeoutMs: 120_000 },
    }),
  );
  say(`sandbox, worker, ceiling worker and API (${stack.apiUrl}) up`);

  const pidOf = (managed: ManagedProcess | undefined, name: string) => {
    if (managed?.pid === undefined) throw new Error(`${name} has no pid`);
    return managed.pid;
  };
  return {
    temporalAddress: stack.temporalAddress,
    namespace: NAMESPACE,
    apiUrl: stack.apiUrl,
    databaseUrl: stack.databaseUrl,
    client: stack.client,
    db,
    codec: {
      payloadKeys: stack.env.PAYLOAD_KEYS ?? '',
      dataConverter: stack.client.options.dataConverter,
    },
    appEnv: stack.env,
    spawnApp: (name, entry, env, ready) => supervisor.run(nodeProcess({ name, entry, env, ready })),
    pids: {
      temporal: pidOf(stack.temporal?.process, 'temporal'),
      postgres: pidOf(stack.postgres?.process, 'postgres'),
      worker: pidOf(stack.workers[0], 'worker'),
      api: pidOf(stack.api, 'api'),
      sandbox: pidOf(stack.sandbox, 'sandbox'),
      ceilingWorker: pidOf(ceiling, 'ceiling worker'),
    },
    versions: { temporal: stack.versions.temporal ?? 'unknown', postgres: stack.versions.postgres ?? 'unknown' },
    stop: stopAll,
  };
}

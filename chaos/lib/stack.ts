/**
 * The embedded stack as SEPARATE PROCESSES that the chaos run can kill and restart one by one:
 * PostgreSQL (own data folder), `temporal server start-dev` with a persistent --db-filename, the
 * provider sandbox, N order workers (src/worker.ts) and the HTTP API (src/api/server.ts), on free
 * ports in a temporary folder. A supervisor restarts a worker, the API or the sandbox when it dies
 * on its own (e.g. a worker that cannot reach Temporal at start-up), and records that it happened.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { Pool } from 'pg';
import { startEphemeralCodec, type EphemeralCodec } from '../../src/codec/ephemeral';
import { createDb } from '../../src/db/client';
import { migrate } from '../../src/db/migrate';
import { ensureDatabase, startPostgres, type RunningPostgres } from '../../src/db/postgres-server';
import { seed } from '../../src/db/seed';
import { PROJECT_ROOT, requireBinaryPath } from '../../src/lib/binaries';
import { devServerArgs } from '../../src/lib/dev-server';
import { bundleOrderWorkflows } from '../../src/lib/workflow-bundle';
import { freePort, waitForPort } from '../../src/lib/net';
import { SandboxAdmin } from '../../src/providers/sandbox-admin';

export const NAMESPACE = 'default';
export const TASK_QUEUE = 'harvest-to-door';
/** Connections of the chaos run itself carry this name, so terminating "the app's" connections spares them. */
export const CHAOS_APP_NAME = 'chaos-observer';

export interface ChaosStackOptions {
  dir: string;
  workers: number;
  /** Budget of one provider call in the worker (PROVIDER_TIMEOUT_MS). */
  providerTimeoutMs: number;
  say: (message: string) => void;
}

/** A child process the run starts, kills and restarts. */
export class Proc {
  child: ChildProcess | undefined;
  private exitedPromise: Promise<void> = Promise.resolve();
  private expectingExit = false;
  /** Set while the run keeps it down on purpose (killed, not yet restarted). */
  down = false;
  starts = 0;
  tail = '';

  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly logFile: string,
    private readonly onUnexpectedExit: (proc: Proc, detail: string) => void,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    if (this.running) return;
    this.down = false;
    this.expectingExit = false;
    this.starts += 1;
    const out = fs.createWriteStream(this.logFile, { flags: 'a' });
    out.write(`\n==== start #${this.starts} at ${new Date().toISOString()}\n`);
    const child = spawn(this.command, this.args, {
      cwd: PROJECT_ROOT,
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const relay = (chunk: Buffer) => {
      out.write(chunk);
      this.tail = (this.tail + chunk.toString('utf8')).slice(-3000);
    };
    child.stdout?.on('data', relay);
    child.stderr?.on('data', relay);
    this.exitedPromise = new Promise<void>((resolve) =>
      child.once('exit', (code, signal) => {
        out.end(`==== exit code ${code} signal ${signal} at ${new Date().toISOString()}\n`);
        if (!this.expectingExit)
          this.onUnexpectedExit(this, `code ${code}, signal ${signal}: ${this.tail.slice(-600)}`);
        resolve();
      }),
    );
  }

  /** Send a signal and wait for the exit; the process stays down until start(). */
  async kill(signal: NodeJS.Signals = 'SIGKILL', graceMs = 15_000): Promise<void> {
    if (!this.running || !this.child) return;
    this.expectingExit = true;
    this.down = true;
    const child = this.child;
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.kill(signal);
    await this.exitedPromise;
    clearTimeout(timer);
  }

  /** Last resort at process exit. */
  killSync(): void {
    if (this.running) {
      this.expectingExit = true;
      this.child?.kill('SIGKILL');
    }
  }
}

export interface UnexpectedExit {
  name: string;
  at: string;
  detail: string;
}

export class ChaosStack {
  readonly logDir: string;
  readonly temporalDb: string;
  readonly pgDataDir: string;
  readonly bundlePath: string;
  ports = { pg: 0, temporal: 0, sandbox: 0, api: 0 };
  pg: RunningPostgres | undefined;
  pgDown = false;
  temporal!: Proc;
  sandbox!: Proc;
  api!: Proc;
  workers: Proc[] = [];
  client!: Client;
  /** Payloads are encrypted as in production: a key for this run, and a codec server for the CLI calls. */
  codec!: EphemeralCodec;
  get dataConverter(): DataConverter {
    return this.codec.dataConverter;
  }
  /** The chaos run's own connections to the two databases (application_name = CHAOS_APP_NAME). */
  harvestDb!: Pool;
  sandboxDb!: Pool;
  admin!: SandboxAdmin;
  apiUrl = '';
  temporalAddress = '';
  readonly unexpectedExits: UnexpectedExit[] = [];
  private stopping = false;
  private readonly restartTimers = new Set<NodeJS.Timeout>();

  constructor(private readonly options: ChaosStackOptions) {
    this.logDir = path.join(options.dir, 'logs');
    this.temporalDb = path.join(options.dir, 'temporal.db');
    this.pgDataDir = path.join(options.dir, 'postgres');
    this.bundlePath = path.join(options.dir, 'workflow-bundle.js');
  }

  url(database: string): string {
    return `postgresql://postgres:postgres@127.0.0.1:${this.ports.pg}/${database}`;
  }

  private readonly onUnexpectedExit = (proc: Proc, detail: string) => {
    if (this.stopping) return;
    this.unexpectedExits.push({ name: proc.name, at: new Date().toISOString(), detail });
    this.options.say(`  ! ${proc.name} exited on its own (${detail.split('\n')[0]}); restarting it`);
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (!this.stopping && !proc.down && !proc.running) proc.start();
    }, 1_000);
    this.restartTimers.add(timer);
  };

  async start(): Promise<void> {
    const { dir, say } = this.options;
    fs.mkdirSync(this.logDir, { recursive: true });
    // mkdtemp makes folders 0700; PostgreSQL runs as the postgres user when we are root and must reach its data.
    fs.chmodSync(dir, 0o755);
    const [pg, temporal, sandbox, api] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    this.ports = { pg, temporal, sandbox, api };
    this.temporalAddress = `127.0.0.1:${temporal}`;
    this.apiUrl = `http://127.0.0.1:${api}`;

    // As `npm run build` bundles it for production (tracing is off here).
    const bundling = bundleOrderWorkflows({ tracing: false, logger: quietLogger }).then((code) =>
      fs.writeFileSync(this.bundlePath, code),
    );

    await this.startPostgres();
    await ensureDatabase(this.url('postgres'), 'harvest');
    await ensureDatabase(this.url('postgres'), 'sandbox');
    await migrate(this.url('harvest'));
    const db = createDb(this.url('harvest'), 2);
    await seed(db);
    await db.$disconnect();
    this.harvestDb = observerPool(this.url('harvest'));
    this.sandboxDb = observerPool(this.url('sandbox'));
    say(`  postgres on ${pg} (data ${this.pgDataDir})`);

    const temporalArgs = devServerArgs({
      port: temporal,
      dbFilename: this.temporalDb,
      namespace: NAMESPACE,
      logLevel: 'error',
    });
    this.temporal = new Proc(
      'temporal',
      requireBinaryPath('temporal'),
      temporalArgs,
      process.env,
      path.join(this.logDir, 'temporal.log'),
      this.onUnexpectedExit,
    );
    await this.startTemporal();
    this.codec = await startEphemeralCodec('chaos', NAMESPACE);
    const connection = await Connection.connect({ address: this.temporalAddress });
    this.client = new Client({ connection, namespace: NAMESPACE, dataConverter: this.dataConverter });
    await this.waitForNamespace(60_000);
    say(`  temporal dev server on ${temporal} (history ${this.temporalDb})`);

    await bundling;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      DATABASE_URL: this.url('harvest'),
      SANDBOX_DATABASE_URL: this.url('sandbox'),
      DATABASE_POOL_SIZE: '6',
      TEMPORAL_ADDRESS: this.temporalAddress,
      TEMPORAL_NAMESPACE: NAMESPACE,
      TEMPORAL_TASK_QUEUE: TASK_QUEUE,
      SANDBOX_HOST: '127.0.0.1',
      SANDBOX_PORT: String(sandbox),
      SANDBOX_URL: `http://127.0.0.1:${sandbox}`,
      API_HOST: '127.0.0.1',
      API_PORT: String(api),
      RATE_LIMIT_PER_MINUTE: '1000000',
      PROVIDER_TIMEOUT_MS: String(this.options.providerTimeoutMs),
      WORKFLOW_BUNDLE_PATH: this.bundlePath,
      PAYLOAD_KEYS: this.codec.payloadKeys,
      OTEL_TRACES_EXPORTER: 'none',
      CREW_SIMULATOR_DELAY_MS: '0',
    };
    delete env.API_KEYS;
    delete env.WORKER_METRICS_ADDRESS;
    delete env.SANDBOX_FAULTS;
    const tsx = ['--import', 'tsx'];
    const node = (name: string, file: string) =>
      new Proc(
        name,
        process.execPath,
        [...tsx, file],
        env,
        path.join(this.logDir, `${name}.log`),
        this.onUnexpectedExit,
      );
    this.sandbox = node('sandbox', 'src/sandbox/server.ts');
    this.sandbox.start();
    await waitForPort(sandbox, '127.0.0.1', 60_000);
    this.admin = new SandboxAdmin(`http://127.0.0.1:${sandbox}`);
    for (let i = 0; i < this.options.workers; i++) this.workers.push(node(`worker-${i + 1}`, 'src/worker.ts'));
    for (const worker of this.workers) worker.start();
    this.api = node('api', 'src/api/server.ts');
    this.api.start();
    await waitForPort(api, '127.0.0.1', 60_000);
    await this.waitForWorkerPolling(90_000);
    say(`  sandbox on ${sandbox}, ${this.workers.length} workers, API ${this.apiUrl}`);
  }

  /** Start (or restart, on the same data folder and port) PostgreSQL. */
  async startPostgres(): Promise<void> {
    const out = fs.createWriteStream(path.join(this.logDir, 'postgres.log'), { flags: 'a' });
    this.pg = await startPostgres({
      dataDir: this.pgDataDir,
      port: this.ports.pg,
      onLog: (line) => out.write(`${line}\n`),
    });
    this.pgDown = false;
    this.pg.process.once('exit', (code, signal) => {
      out.end();
      if (!this.pgDown && !this.stopping) {
        this.unexpectedExits.push({
          name: 'postgres',
          at: new Date().toISOString(),
          detail: `code ${code}, signal ${signal}`,
        });
      }
    });
  }

  /**
   * Crash PostgreSQL: SIGKILL the postmaster and every backend (as an OOM kill of the whole server would), or
   * stop it fast (SIGINT: roll back, checkpoint, exit). It stays down until startPostgres().
   */
  async killPostgres(mode: 'kill' | 'fast'): Promise<void> {
    const pg = this.pg;
    if (!pg || this.pgDown) return;
    this.pgDown = true;
    const pid = pg.process.pid;
    const exited = new Promise<void>((resolve) =>
      pg.process.exitCode !== null || pg.process.signalCode !== null
        ? resolve()
        : pg.process.once('exit', () => resolve()),
    );
    if (mode === 'fast') {
      await pg.stop();
      return;
    }
    const children = pid ? childPids(pid) : [];
    pg.process.kill('SIGKILL');
    for (const child of children) {
      try {
        process.kill(child, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await exited;
    // Backends notice the postmaster's death on their own; wait until none is left holding shared memory.
    const deadline = Date.now() + 10_000;
    while (children.some(alive) && Date.now() < deadline) await sleep(50);
  }

  /** Terminate every connection of the app (worker, API, sandbox) to both databases. */
  async terminateConnections(): Promise<number> {
    const result = await this.harvestDb.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname IN ('harvest', 'sandbox') AND pid <> pg_backend_pid()
           AND coalesce(application_name, '') <> $1 AND backend_type = 'client backend') t`,
      [CHAOS_APP_NAME],
    );
    return result.rows[0]?.n ?? 0;
  }

  async startTemporal(): Promise<void> {
    this.temporal.start();
    await waitForPort(this.ports.temporal, '127.0.0.1', 60_000);
  }

  async waitForNamespace(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.client.workflowService.describeNamespace({ namespace: NAMESPACE });
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(200);
      }
    }
  }

  /** Resolve once some worker polls the order task queue (the server saw a poller recently). */
  async waitForWorkerPolling(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const response = await this.client.workflowService.describeTaskQueue({
          namespace: NAMESPACE,
          taskQueue: { name: TASK_QUEUE },
          taskQueueType: 1, // workflow
        });
        if ((response.pollers ?? []).length > 0) return;
      } catch {
        // server restarting
      }
      if (Date.now() > deadline) throw new Error(`no worker polls ${TASK_QUEUE} after ${timeoutMs} ms`);
      await sleep(250);
    }
  }

  /** `temporal <args> --address <dev server>`: the operator's CLI against this stack. */
  cli(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        requireBinaryPath('temporal'),
        [...args, '--address', this.temporalAddress, '--namespace', NAMESPACE, ...this.codec.cliArgs],
        { timeout: 30_000 },
        (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
      );
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const timer of this.restartTimers) clearTimeout(timer);
    await this.client?.connection.close().catch(() => undefined);
    await this.codec?.close();
    for (const proc of [this.api, ...this.workers, this.sandbox].filter(Boolean)) await proc.kill('SIGTERM', 10_000);
    await this.harvestDb?.end().catch(() => undefined);
    await this.sandboxDb?.end().catch(() => undefined);
    await this.temporal?.kill('SIGTERM', 10_000);
    if (!this.pgDown) await this.pg?.stop();
  }

  /** Synchronous last resort (process exit). */
  killAll(): void {
    this.stopping = true;
    for (const proc of [this.api, ...this.workers, this.sandbox, this.temporal].filter(Boolean)) proc.killSync();
    if (this.pg && !this.pgDown) this.pg.process.kill('SIGKILL');
  }
}

function observerPool(connectionString: string): Pool {
  const pool = new Pool({ connectionString, max: 4, application_name: CHAOS_APP_NAME, connectionTimeoutMillis: 5_000 });
  // Idle connections die when PostgreSQL is killed; the pool replaces them on the next query.
  pool.on('error', () => undefined);
  return pool;
}

/** Direct children of a process, from /proc. */
function childPids(pid: number): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) found.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (message: string) => console.error(`[bundler] ${message}`),
};

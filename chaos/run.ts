/**
 * `npm run chaos` (3 seeds, ~500 orders, at least 10 kills of each process kind) and
 * `npm run chaos -- --short` (one seed, about three minutes; runs in CI).
 *
 * Each seed runs a fresh stack of separate processes (chaos/lib/stack.ts), drives orders through the HTTP
 * API while a seeded schedule of faults runs (chaos/lib/session.ts), lets everything settle, checks the
 * invariants (chaos/lib/invariants.ts) and replays every history (chaos/lib/replay.ts). Results go to
 * chaos/results/<profile>.json and .md; the exit code is 1 when any invariant was violated.
 *
 * Flags: --short, --seeds 1,2,3, --orders N (per seed), --drive S (seconds of faults per seed), --keep (keep
 * the temporary data folders: PostgreSQL, temporal.db, logs), --out DIR.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { buildReport, gitState, renderMarkdown } from './lib/report';
import { runSession, type Profile, type SessionResult } from './lib/session';

const SHORT: Profile = {
  name: 'short',
  orders: 40,
  driveSec: 70,
  actions: {
    'worker-kill': 2,
    'worker-kill-after-charge': 1,
    'temporal-kill': 1,
    'pg-terminate': 1,
    'pg-restart': 1,
    'inventory-errors': 1,
    'provider-phase': 4,
    'last-units': 1,
    reset: 1,
  },
  settleBoundSec: 240,
  resetsAfterSettle: 6,
  workers: 2,
  providerTimeoutMs: 3_000,
};

const FULL: Profile = {
  name: 'full',
  orders: 160,
  driveSec: 420,
  actions: {
    'worker-kill': 4,
    'worker-kill-after-charge': 3,
    'temporal-kill': 4,
    'pg-terminate': 4,
    'pg-restart': 4,
    'inventory-errors': 2,
    'provider-phase': 9,
    'last-units': 3,
    reset: 4,
  },
  settleBoundSec: 300,
  resetsAfterSettle: 15,
  workers: 2,
  providerTimeoutMs: 3_000,
};

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const short = process.argv.includes('--short');
  const profile: Profile = { ...(short ? SHORT : FULL) };
  if (arg('orders')) profile.orders = Number(arg('orders'));
  if (arg('drive')) profile.driveSec = Number(arg('drive'));
  const seeds = (arg('seeds') ?? (short ? '7' : '1,2,3')).split(',').map(Number);
  const outDir = path.resolve(arg('out') ?? path.join(__dirname, 'results'));
  const keep = process.argv.includes('--keep');
  // The replay worker runs in this process; keep the SDK's own logs to errors.
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
  });
  const startedAt = new Date();
  // The code under test is what HEAD was when the run began (workers restarted later reload src/).
  const git = gitState();
  const say = (message: string) => console.log(message);
  say(
    `chaos ${profile.name}: seeds ${seeds.join(', ')}, ${profile.orders} orders per seed, ${profile.driveSec}s of faults`,
  );
  const sessions: SessionResult[] = [];
  for (const seed of seeds) {
    const result = await runSession(seed, profile, { keep, say });
    if (!keep) delete result.dataDir;
    sessions.push(result);
    say(`seed ${seed}: ${result.violations.length} violation(s) in ${result.runtimeSec}s`);
  }
  const report = buildReport(profile.name, startedAt, git, sessions, os.cpus().length);
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, `${profile.name}.json`), `${JSON.stringify(report, null, 2)}\n`);
  const markdown = renderMarkdown(report);
  fs.writeFileSync(path.join(outDir, `${profile.name}.md`), markdown);
  say('');
  say(markdown);
  say(`results: ${path.join(outDir, `${profile.name}.{json,md}`)}`);
  process.exit(report.totals.violations > 0 ? 1 : 0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(2);
});

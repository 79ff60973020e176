/** Closed loop: a concurrency sweep of orders over HTTP (full mode; quick mode's rounds are its closed loop). */
import { closedPhase, type BenchContext } from '../lib/context';

export async function closedLoopSweep(ctx: BenchContext): Promise<void> {
  const { options } = ctx;
  if (options.skip.has('closed')) return;
  for (const concurrency of options.closedConcurrency) {
    await closedPhase(
      ctx,
      {
        name: `closed c=${concurrency}`,
        group: 'closed-loop',
        system: 'oursHttp',
        concurrency,
        seconds: options.closedSec,
      },
      { drainSec: Math.max(options.drainSec, concurrency) },
    );
  }
}

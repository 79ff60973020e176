/** History shape per system (events, workflow tasks), sampled from the throughput rounds' workflows. */
import { combine, sampleHistories } from '../lib/history';
import type { BenchContext } from '../lib/context';

export async function sampleRoundHistories(ctx: BenchContext): Promise<void> {
  for (const system of ctx.systemOrder) {
    // The newest IDs are the throughput rounds' (warm-up came first).
    const ids = (ctx.idsBySystem[system] ?? []).slice(-400);
    ctx.histories[system] = combine(await sampleHistories(ctx.client, ids, ctx.options.histories));
  }
}

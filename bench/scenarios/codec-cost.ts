import { measureCodecCost } from '../codec-cost';
import type { BenchContext } from '../lib/context';

/** What the payload codec costs per order: a worker and an API with encryption on and off, side by side. */
export async function codecCostScenario(ctx: BenchContext): Promise<void> {
  if (ctx.options.skip.has('codec')) return;
  ctx.codecCost = await measureCodecCost(ctx.stack, { quick: ctx.options.quick, say: ctx.say });
  ctx.checkpoint('codec cost measured');
}

/**
 * Open loop: orders over HTTP at fixed request rates, whatever the service's pace. Full mode runs each rate to
 * completion; quick mode runs them as short bursts whose orders park at the harvest wait (inside the scale test) and
 * are released with the rest, which fits in its two minutes.
 */
import { orderWorkflowId } from '../../src/workflows/definitions';
import { measure, type BenchContext } from '../lib/context';
import { openLoop } from '../lib/load';

export async function openLoopSweep(ctx: BenchContext): Promise<void> {
  const { options } = ctx;
  if (options.skip.has('open') || options.quick) return;
  for (const rate of options.openRates) {
    await measure(ctx, { name: `open ${rate}/s`, group: 'open-loop', system: 'oursHttp', ratePerSec: rate }, (ids) =>
      openLoop({
        ratePerSec: rate,
        durationMs: options.openSec * 1000,
        // Beyond capacity the backlog drains at the service's pace: give it about a second per order.
        drainTimeoutMs: Math.max(options.drainSec, rate * options.openSec) * 1000,
        op: (i, start) => ctx.ops.oursHttpOp(i, start, ids),
      }),
    );
  }
}

/** Quick mode: the open-loop rates as bursts of orders that park (their IDs are added to `parked`). */
export async function openLoopBursts(ctx: BenchContext, parked: string[]): Promise<void> {
  const { options } = ctx;
  if (!options.quick || options.skip.has('open')) return;
  for (const rate of options.openRates) {
    await measure(
      ctx,
      { name: `open ${rate}/s (burst, orders park)`, group: 'open-loop', system: 'oursHttp', ratePerSec: rate },
      (ids) =>
        openLoop({
          ratePerSec: rate,
          durationMs: options.openSec * 1000,
          drainTimeoutMs: options.drainSec * 1000,
          op: async (_i, start) => {
            const { orderId, accepted } = await ctx.ops.postOrder(start);
            ids.push(orderWorkflowId(orderId));
            parked.push(orderId);
            return { accepted };
          },
        }),
    );
  }
}

/**
 * Warm-up and the interleaved throughput rounds: each system (ceilings A, B, C, O, ours via client, ours via HTTP)
 * in a closed loop at the same concurrency, one after the other, rotated every round so machine noise hits all alike.
 */
import { closedLoop } from '../lib/load';
import { closedPhase, settle, type BenchContext } from '../lib/context';

/** The systems of the rounds: the flags' choice, or every system (quick mode: the four that matter most). */
export function chooseSystems(ctx: BenchContext): string[] {
  const { options } = ctx;
  const allSystems = options.quick
    ? ['ceilingA', 'ceilingB', 'oursClient', 'oursHttp']
    : ['ceilingA', 'ceilingB', 'ceilingC', 'ceilingO', 'oursClient', 'oursHttp'];
  const systemOrder = (options.systems ?? allSystems).filter(
    (system) => !(options.skip.has('ceilings') && system.startsWith('ceiling')),
  );
  for (const system of systemOrder) if (!(system in ctx.ops.systems)) throw new Error(`Unknown system ${system}`);
  return systemOrder;
}

/** JIT, connections, caches: every system at once, not reported. */
export async function warmUp(ctx: BenchContext): Promise<void> {
  const { options } = ctx;
  ctx.say(`warm-up (${ctx.systemOrder.join(', ')} at once, ${options.warmSec} s)`);
  await Promise.all(
    ctx.systemOrder.map((system) =>
      closedLoop({
        concurrency: 2,
        durationMs: options.warmSec * 1000,
        drainTimeoutMs: options.drainSec * 1000,
        op: (i, start) => (ctx.ops.systems[system] ?? unknown(system))(i, start, []),
      }),
    ),
  );
  await settle(ctx, options.settleSec * 1000);
}

export async function throughputRounds(ctx: BenchContext): Promise<void> {
  const { options, systemOrder } = ctx;
  for (let round = 1; round <= options.rounds; round++) {
    // Rotate the order every round so no system always runs first (or right after the heaviest one).
    const shift = (round - 1) % systemOrder.length;
    const order = [...systemOrder.slice(shift), ...systemOrder.slice(0, shift)];
    for (const system of order) {
      await closedPhase(
        ctx,
        {
          name: `round ${round} ${system}`,
          group: 'throughput',
          system,
          concurrency: options.concurrency,
          seconds: options.phaseSec,
        },
        { round },
      );
    }
  }
}

function unknown(system: string): never {
  throw new Error(`Unknown system ${system}`);
}

import type { Client } from '@temporalio/client';
import type { Db } from '../db/client';
import type { Logger } from '../lib/logger';
import { harvestCompletedSignal, orderWorkflowId } from '../workflows/definitions';

/**
 * Demo only: a field crew that completes every open harvest task `delayMs` after it was created,
 * with full yields, through the same signal a real crew's report sends. Lets orders finish on
 * their own in the embedded stack. Never enabled by docker-compose.
 */
export function startCrewSimulator({
  db,
  temporal,
  delayMs,
  log,
}: {
  db: Db;
  temporal: Client;
  delayMs: number;
  log: Logger;
}) {
  const reported = new Set<string>();
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      const due = await db.harvestTask.findMany({
        where: { status: 'OPEN', createdAt: { lte: new Date(Date.now() - delayMs) } },
        include: { order: { include: { lines: true } } },
        take: 100,
      });
      for (const task of due) {
        if (reported.has(task.id)) continue;
        await temporal.workflow.getHandle(orderWorkflowId(task.orderId)).signal(harvestCompletedSignal, {
          taskId: task.id,
          yields: task.order.lines.map((line) => ({ sku: line.sku, quantity: line.quantity })),
          reportedBy: 'crew:simulator',
        });
        reported.add(task.id);
        log.info({ taskId: task.id, orderId: task.orderId }, 'simulated crew reported a full harvest');
      }
    } catch (error) {
      log.warn({ err: error }, 'crew simulator tick failed; will try again');
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), Math.min(1000, Math.max(100, delayMs / 5)));
  return { stop: () => clearInterval(timer) };
}

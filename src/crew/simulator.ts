import type { Client } from '@temporalio/client';
import type { Db } from '../db/client';
import type { Logger } from '../lib/logger';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { orderWorkflowId, reportHarvestUpdate } from '../workflows/definitions';

/**
 * Demo only: a field crew that completes every open harvest task `delayMs` after it was created,
 * with full yields, through the same Update a real crew's report sends. Lets orders finish on
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
        try {
          await temporal.workflow.getHandle(orderWorkflowId(task.orderId)).executeUpdate(reportHarvestUpdate, {
            args: [
              {
                taskId: task.id,
                yields: task.order.lines.map((line) => ({ sku: line.sku, quantity: line.quantity })),
                reportedBy: 'crew:simulator',
              },
            ],
          });
          log.info({ taskId: task.id, orderId: task.orderId }, 'simulated crew reported a full harvest');
        } catch (error) {
          // Refused (reported already, or the order is being cancelled) or ended: the task is not the crew's any more.
          if (!(error instanceof WorkflowUpdateFailedError || error instanceof WorkflowNotFoundError)) throw error;
          log.info({ taskId: task.id, orderId: task.orderId, reason: (error as Error).message }, 'report refused');
        }
        reported.add(task.id);
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

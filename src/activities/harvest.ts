import { ApplicationFailure } from '@temporalio/common';
import { harvestTaskId, type HarvestYield } from '../workflows/definitions';
import { appendEvent, lockOrder, setOrderState, type ActivityDeps } from './shared';

/** Harvest context: tasks for field crews and what they actually picked. */
export function createHarvestActivities({ db }: ActivityDeps) {
  return {
    /** Open the crew's task (ID `hv-<orderId>`); idempotent, keeps the first due date. */
    async createHarvestTask({
      orderId,
      dueBy,
    }: {
      orderId: string;
      dueBy: string;
    }): Promise<{ taskId: string; dueBy: string }> {
      const taskId = harvestTaskId(orderId);
      return db.$transaction(async (tx) => {
        await lockOrder(tx, orderId);
        const existing = await tx.harvestTask.findUnique({ where: { id: taskId } });
        if (existing) return { taskId, dueBy: existing.dueBy.toISOString() };
        await tx.harvestTask.create({ data: { id: taskId, orderId, status: 'OPEN', dueBy: new Date(dueBy) } });
        await appendEvent(tx, orderId, `${orderId}:harvest-scheduled`, 'HarvestScheduled', { taskId, dueBy });
        await setOrderState(tx, orderId, { status: 'AWAITING_HARVEST', step: 'harvest' });
        return { taskId, dueBy };
      });
    },

    /**
     * Record the crew's yields. The reservation is consumed: what was harvested now travels with
     * the order, and a shortfall never existed as stock, so it is not returned.
     *
     * Only an OPEN task takes a report. A COMPLETED one returns what was recorded (a retry, or a reset run
     * replaying the signal). A closed one (RETURNED: the produce went back to stock; CANCELLED) refuses with the
     * non-retryable `HarvestClosed`: recording it again would ship, or return to stock a second time, produce the
     * order no longer holds.
     */
    async recordHarvest({ orderId, yields }: { orderId: string; yields: HarvestYield[] }): Promise<HarvestYield[]> {
      const taskId = harvestTaskId(orderId);
      return db.$transaction(async (tx) => {
        await lockOrder(tx, orderId);
        const lines = await tx.orderLine.findMany({ where: { orderId }, orderBy: { sku: 'asc' } });
        const task = await tx.harvestTask.findUnique({ where: { id: taskId } });
        if (task?.status === 'COMPLETED') {
          return lines.map((line) => ({ sku: line.sku, quantity: line.harvestedQuantity ?? 0 }));
        }
        if (task && task.status !== 'OPEN') {
          throw ApplicationFailure.create({
            type: 'HarvestClosed',
            message: `Harvest task ${taskId} is ${task.status}: its produce is no longer with this order`,
            nonRetryable: true,
          });
        }
        const harvested = lines.map((line) => ({
          sku: line.sku,
          quantity: Math.max(0, Math.min(line.quantity, yields.find((y) => y.sku === line.sku)?.quantity ?? 0)),
        }));
        await tx.harvestTask.update({
          where: { id: taskId },
          data: { status: 'COMPLETED', yields: harvested, completedAt: new Date() },
        });
        for (const line of harvested) {
          await tx.orderLine.update({
            where: { orderId_sku: { orderId, sku: line.sku } },
            data: { harvestedQuantity: line.quantity },
          });
        }
        const active = await tx.reservation.findMany({ where: { orderId, status: 'ACTIVE' } });
        for (const reservation of active) {
          await tx.$executeRaw`
            UPDATE products SET reserved = reserved - ${reservation.quantity}, updated_at = now()
            WHERE sku = ${reservation.sku}`;
          await tx.reservation.update({
            where: { orderId_sku: { orderId, sku: reservation.sku } },
            data: { status: 'CONSUMED', settledAt: new Date() },
          });
        }
        await appendEvent(tx, orderId, `${orderId}:harvested`, 'HarvestCompleted', { taskId, yields: harvested });
        await setOrderState(tx, orderId, { status: 'RUNNING', step: 'harvest' });
        return harvested;
      });
    },

    /**
     * Compensation: close an open task, or put harvested produce back into available stock.
     * Idempotent through the task's status.
     */
    async cancelHarvest({ orderId }: { orderId: string }): Promise<{ outcome: 'cancelled' | 'returned' | 'none' }> {
      const taskId = harvestTaskId(orderId);
      return db.$transaction(async (tx) => {
        await lockOrder(tx, orderId);
        const task = await tx.harvestTask.findUnique({ where: { id: taskId } });
        if (!task) return { outcome: 'none' as const };
        if (task.status === 'OPEN') {
          await tx.harvestTask.update({ where: { id: taskId }, data: { status: 'CANCELLED', closedAt: new Date() } });
          await appendEvent(tx, orderId, `${orderId}:harvest-cancelled`, 'HarvestCancelled', { taskId });
          return { outcome: 'cancelled' as const };
        }
        if (task.status === 'COMPLETED') {
          const lines = await tx.orderLine.findMany({ where: { orderId }, orderBy: { sku: 'asc' } });
          for (const line of lines) {
            if (!line.harvestedQuantity) continue;
            await tx.$executeRaw`
              UPDATE products SET available = available + ${line.harvestedQuantity}, updated_at = now()
              WHERE sku = ${line.sku}`;
          }
          await tx.harvestTask.update({ where: { id: taskId }, data: { status: 'RETURNED', closedAt: new Date() } });
          await appendEvent(tx, orderId, `${orderId}:harvest-returned`, 'HarvestReturnedToStock', {
            lines: lines.map((line) => ({ sku: line.sku, quantity: line.harvestedQuantity ?? 0 })),
          });
          return { outcome: 'returned' as const };
        }
        return { outcome: 'none' as const };
      });
    },
  };
}

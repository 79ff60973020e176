import { harvestTaskId, type HarvestYield, type OrderProgress } from '../workflows/definitions';
import { businessFailure } from '../workflows/failures';
import { appendEvent, lockOrder, recordEvent, type ActivityDeps } from './shared';

/** Harvest context: tasks for field crews and what they actually picked. */
export function createHarvestActivities({ db }: ActivityDeps) {
  return {
    /** Open the crew's task (ID `hv-<orderId>`); idempotent, keeps the first due date. */
    async createHarvestTask({
      orderId,
      dueBy,
      progress,
    }: {
      orderId: string;
      dueBy: string;
      progress: OrderProgress;
    }): Promise<{ taskId: string; dueBy: string }> {
      const taskId = harvestTaskId(orderId);
      return db.$transaction(async (tx) => {
        await lockOrder(tx, orderId);
        const created = await tx.$queryRaw<{ id: string }[]>`
          INSERT INTO harvest_tasks (id, order_id, status, due_by) VALUES (${taskId}, ${orderId}, 'OPEN', ${new Date(dueBy)})
          ON CONFLICT DO NOTHING
          RETURNING id`;
        if (created.length === 0) {
          const existing = await tx.harvestTask.findUniqueOrThrow({ where: { id: taskId }, select: { dueBy: true } });
          return { taskId, dueBy: existing.dueBy.toISOString() };
        }
        await recordEvent(
          tx,
          orderId,
          { id: `${orderId}:harvest-scheduled`, type: 'HarvestScheduled', data: { taskId, dueBy } },
          { progress },
        );
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
    async recordHarvest({
      orderId,
      yields,
      progress,
    }: {
      orderId: string;
      yields: HarvestYield[];
      progress: OrderProgress;
    }): Promise<HarvestYield[]> {
      const taskId = harvestTaskId(orderId);
      return db.$transaction(async (tx) => {
        await lockOrder(tx, orderId);
        const lines = await tx.$queryRaw<{ sku: string; quantity: number; harvested: number | null }[]>`
          SELECT sku, quantity, harvested_quantity AS harvested FROM order_lines WHERE order_id = ${orderId}
          ORDER BY sku`;
        const task = await tx.harvestTask.findUnique({ where: { id: taskId }, select: { status: true } });
        if (task?.status === 'COMPLETED') {
          return lines.map((line) => ({ sku: line.sku, quantity: line.harvested ?? 0 }));
        }
        if (task && task.status !== 'OPEN') {
          throw businessFailure(
            'HarvestClosed',
            `Harvest task ${taskId} is ${task.status}: its produce is no longer with this order`,
          );
        }
        const harvested = lines.map((line) => ({
          sku: line.sku,
          quantity: Math.max(0, Math.min(line.quantity, yields.find((y) => y.sku === line.sku)?.quantity ?? 0)),
        }));
        await tx.$executeRaw`
          UPDATE harvest_tasks SET status = 'COMPLETED', yields = ${JSON.stringify(harvested)}::jsonb, completed_at = now()
          WHERE id = ${taskId}`;
        await tx.$executeRaw`
          UPDATE order_lines l SET harvested_quantity = h.quantity
          FROM unnest(${harvested.map((h) => h.sku)}::text[], ${harvested.map((h) => h.quantity)}::int[]) AS h (sku, quantity)
          WHERE l.order_id = ${orderId} AND l.sku = h.sku`;
        // The reserved units leave the stock: they are now the order's produce (or, short of the yield, never were).
        // Product rows are locked in sku order first, as reserveInventory takes them: the set-based update below
        // locks them in whatever order its join produces, which deadlocked against concurrent reservations.
        // FOR NO KEY UPDATE is the lock an UPDATE of non-key columns takes. FOR UPDATE would also conflict with the
        // KEY SHARE locks that foreign-key checks of orders being recorded hold on these rows (in their lines' order,
        // not sku order): that deadlocked too (test/activities/locking.test.ts).
        await tx.$queryRaw`
          SELECT sku FROM products
          WHERE sku IN (SELECT sku FROM reservations WHERE order_id = ${orderId} AND status = 'ACTIVE')
          ORDER BY sku FOR NO KEY UPDATE`;
        await tx.$executeRaw`
          WITH consumed AS (
            UPDATE reservations SET status = 'CONSUMED', settled_at = now()
            WHERE order_id = ${orderId} AND status = 'ACTIVE'
            RETURNING sku, quantity
          )
          UPDATE products p SET reserved = p.reserved - consumed.quantity, updated_at = now()
          FROM consumed WHERE p.sku = consumed.sku`;
        await recordEvent(
          tx,
          orderId,
          { id: `${orderId}:harvested`, type: 'HarvestCompleted', data: { taskId, yields: harvested } },
          { progress },
        );
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

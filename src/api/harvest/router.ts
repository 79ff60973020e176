import { Router } from 'express';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import type { Db } from '../../db/client';
import { harvestCompletedSignal, orderWorkflowId } from '../../workflows/definitions';
import { requireRole, type Principal } from '../auth';
import { HttpProblem, problems } from '../problem';

const taskParams = z.object({ id: z.string().regex(/^hv-[A-Za-z0-9_-]{1,80}$/, 'not a harvest task ID') }).strict();
export const completeHarvestSchema = z
  .object({
    yields: z
      .array(z.object({ sku: z.string().min(1).max(64), quantity: z.number().int().min(0).max(1000) }).strict())
      .min(1)
      .max(50),
  })
  .strict();

/** Harvest tasks: what crews see and report. */
export function harvestRouter({ db, temporal }: { db: Db; temporal: Client }): Router {
  const router = Router();

  router.get('/harvest-tasks', requireRole('crew', 'admin'), async (_req, res) => {
    const tasks = await db.harvestTask.findMany({
      where: { status: 'OPEN' },
      orderBy: { dueBy: 'asc' },
      take: 500,
      include: { order: { include: { lines: { orderBy: { sku: 'asc' } } } } },
    });
    res.json({
      data: tasks.map((t) => ({
        id: t.id,
        orderId: t.orderId,
        dueBy: t.dueBy,
        lines: t.order.lines.map((l) => ({ sku: l.sku, quantity: l.quantity })),
        links: { complete: `/harvest-tasks/${t.id}/complete` },
      })),
    });
  });

  router.post('/harvest-tasks/:id/complete', requireRole('crew', 'admin'), async (req, res) => {
    const { id } = taskParams.parse(req.params);
    const { yields } = completeHarvestSchema.parse(req.body);
    const task = await db.harvestTask.findUnique({ where: { id }, include: { order: { include: { lines: true } } } });
    if (!task) throw problems.notFound(`Harvest task ${id}`);
    if (task.status !== 'OPEN')
      throw problems.conflict('harvest-task-closed', `Harvest task ${id} is ${task.status}`, { status: task.status });
    const lines = new Map(task.order.lines.map((l) => [l.sku, l.quantity]));
    const errors = yields.flatMap((y, i) => {
      const ordered = lines.get(y.sku);
      if (ordered === undefined) return [{ path: `yields.${i}.sku`, message: `${y.sku} is not on this order` }];
      if (y.quantity > ordered) return [{ path: `yields.${i}.quantity`, message: `more than the ${ordered} ordered` }];
      return [];
    });
    if (new Set(yields.map((y) => y.sku)).size !== yields.length)
      errors.push({ path: 'yields', message: 'each SKU may appear only once' });
    if (errors.length > 0) {
      throw new HttpProblem(
        400,
        'validation',
        'Invalid request',
        errors.map((e) => `${e.path}: ${e.message}`).join('; '),
        { errors },
      );
    }
    const principal = req.principal as Principal;
    await temporal.workflow
      .getHandle(orderWorkflowId(task.orderId))
      .signal(harvestCompletedSignal, { taskId: id, yields, reportedBy: `${principal.role}:${principal.subject}` });
    res
      .status(202)
      .json({ taskId: id, orderId: task.orderId, accepted: true, links: { order: `/orders/${task.orderId}` } });
  });

  return router;
}

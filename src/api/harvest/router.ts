import { Router } from 'express';
import type { Client } from '@temporalio/client';
import type { Db } from '../../db/client';
import { harvestCompletedSignal, orderWorkflowId } from '../../workflows/definitions';
import { requireRole, type Principal } from '../auth';
import { problems, type FieldError } from '../problem';
import { validate } from '../validate';
import { harvestRoutes, LIMITS } from './schemas';

/** Harvest tasks: what crews see and report. */
export function harvestRouter({ db, temporal }: { db: Db; temporal: Client }): Router {
  const router = Router();

  router.get('/harvest-tasks', requireRole('crew', 'admin'), async (req, res) => {
    validate(req, harvestRoutes.listHarvestTasks);
    const tasks = await db.harvestTask.findMany({
      where: { status: 'OPEN' },
      orderBy: { dueBy: 'asc' },
      take: LIMITS.openTasks,
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
    const { params, body } = validate(req, harvestRoutes.completeHarvestTask);
    const { id } = params;
    const { yields } = body;
    const task = await db.harvestTask.findUnique({ where: { id }, include: { order: { include: { lines: true } } } });
    if (!task) throw problems.notFound(`Harvest task ${id}`);
    if (task.status !== 'OPEN')
      throw problems.conflict('harvest-task-closed', `Harvest task ${id} is ${task.status}`, {
        taskStatus: task.status,
      });
    // Checks against the order itself: every bad yield is named, like a schema error.
    const lines = new Map(task.order.lines.map((l) => [l.sku, l.quantity]));
    const errors = yields.flatMap((y, i): FieldError[] => {
      const ordered = lines.get(y.sku);
      if (ordered === undefined)
        return [{ in: 'body', path: `yields.${i}.sku`, message: `${y.sku} is not on this order` }];
      if (y.quantity > ordered) {
        return [{ in: 'body', path: `yields.${i}.quantity`, message: `more than the ${ordered} ordered` }];
      }
      return [];
    });
    if (errors.length > 0) throw problems.validation(errors);
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

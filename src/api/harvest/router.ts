import { Router } from 'express';
import type { Client } from '@temporalio/client';
import type { Db } from '../../db/client';
import { orderWorkflowId, reportHarvestUpdate } from '../../workflows/definitions';
import { requireRole, type Principal } from '../auth';
import { problems } from '../problem';
import { isRunClosed, rethrowAsProblem } from '../refusals';
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
    const task = await db.harvestTask.findUnique({ where: { id } });
    if (!task) throw problems.notFound(`Harvest task ${id}`);
    const principal = req.principal as Principal;
    try {
      await temporal.workflow.getHandle(orderWorkflowId(task.orderId)).executeUpdate(reportHarvestUpdate, {
        args: [{ taskId: id, yields, reportedBy: `${principal.role}:${principal.subject}` }],
      });
    } catch (error) {
      if (isRunClosed(error)) {
        throw problems.conflict('harvest-task-closed', `Harvest task ${id} is ${task.status}: its order has ended`, {
          taskStatus: task.status,
        });
      }
      rethrowAsProblem(error, { taskStatus: task.status });
    }
    res
      .status(202)
      .json({ taskId: id, orderId: task.orderId, accepted: true, links: { order: `/orders/${task.orderId}` } });
  });

  return router;
}

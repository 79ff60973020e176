import { z } from 'zod';
import { noQuery, skuSchema, timestampSchema, type RouteDoc } from '../common';
import { LIMITS as ORDER_LIMITS, mergeLines, orderLinks } from '../orders/schemas';

/** A yield can be as large as the largest line an order can have. */
export const LIMITS = { yields: 50, quantity: ORDER_LIMITS.unitsPerSku, openTasks: 500 } as const;

export const taskParams = z
  .object({
    id: z
      .string()
      .regex(/^hv-[A-Za-z0-9_-]{1,80}$/, 'not a harvest task ID')
      .describe('Harvest task ID, hv-<orderId>'),
  })
  .strict();

export const completeHarvestSchema = z
  .object({
    yields: z
      .array(z.object({ sku: skuSchema, quantity: z.number().int().min(0).max(LIMITS.quantity) }).strict())
      .min(1)
      .max(LIMITS.yields)
      .describe(
        'What was actually picked per SKU of the order, at most what was ordered; yields naming the same SKU are added up',
      )
      .transform(mergeLines),
  })
  .strict();

export const harvestTaskListSchema = z
  .object({
    data: z.array(
      z
        .object({
          id: z.string(),
          orderId: z.string(),
          dueBy: timestampSchema,
          lines: z.array(z.object({ sku: z.string(), quantity: z.number().int() }).strict()),
          links: z.object({ complete: z.string() }).strict(),
        })
        .strict(),
    ),
  })
  .strict();

export const harvestAcceptedSchema = z
  .object({
    taskId: z.string(),
    orderId: z.string(),
    accepted: z.literal(true),
    links: z.object({ order: z.string() }).strict(),
  })
  .strict();

export const harvestRoutes = {
  listHarvestTasks: {
    method: 'get',
    path: '/harvest-tasks',
    operationId: 'listHarvestTasks',
    summary: `Open harvest tasks, soonest due first (at most ${LIMITS.openTasks})`,
    tag: 'harvest',
    access: ['crew', 'admin'],
    query: noQuery,
    responses: {
      200: {
        description: 'Open tasks',
        schema: harvestTaskListSchema,
        links: {
          completeHarvestTask: {
            operationId: 'completeHarvestTask',
            parameters: { id: '$response.body#/data/0/id' },
            description: 'Report the first task’s harvest',
          },
          getOrder: {
            operationId: 'getOrder',
            parameters: { id: '$response.body#/data/0/orderId' },
            description: 'The first task’s order',
          },
        },
      },
    },
  },
  completeHarvestTask: {
    method: 'post',
    path: '/harvest-tasks/:id/complete',
    operationId: 'completeHarvestTask',
    summary: 'Report what was picked; the order’s workflow accepts or refuses it (a `reportHarvest` Update)',
    tag: 'harvest',
    access: ['crew', 'admin'],
    params: taskParams,
    query: noQuery,
    body: completeHarvestSchema,
    responses: {
      202: {
        description: 'The workflow has the report and goes on with it',
        schema: harvestAcceptedSchema,
        links: { getOrder: orderLinks('/orderId').getOrder },
      },
      404: { description: 'No such task', problems: ['not-found'] },
      409: {
        description: 'Reported already, or the order no longer waits for a harvest',
        problems: ['harvest-already-reported', 'harvest-task-closed'],
      },
      422: {
        description: 'A yield names a SKU the order does not have, or more than was ordered; `errors` names each',
        problems: ['harvest-report-invalid'],
      },
    },
  },
} as const satisfies Record<string, RouteDoc>;

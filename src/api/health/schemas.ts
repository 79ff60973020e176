import { z } from 'zod';
import type { RouteDoc } from '../common';

export const healthSchema = z.object({ status: z.literal('ok') }).strict();
export const readinessSchema = z
  .object({
    status: z.enum(['ready', 'not-ready']),
    checks: z
      .object({
        database: z.string().describe('ok, or the error'),
        temporal: z.string().describe('ok, or the error'),
      })
      .strict(),
  })
  .strict();

export const healthRoutes = {
  healthz: {
    method: 'get',
    path: '/healthz',
    operationId: 'healthz',
    summary: 'Liveness: the process answers',
    tag: 'health',
    access: 'public',
    responses: { 200: { description: 'Alive', schema: healthSchema } },
  },
  readyz: {
    method: 'get',
    path: '/readyz',
    operationId: 'readyz',
    summary: 'Readiness: PostgreSQL and Temporal answer',
    tag: 'health',
    access: 'public',
    responses: {
      200: { description: 'Ready', schema: readinessSchema },
      503: { description: 'A dependency is down', schema: readinessSchema },
    },
  },
  metrics: {
    method: 'get',
    path: '/metrics',
    operationId: 'metrics',
    summary: 'Prometheus metrics: HTTP series of this process and domain series read from PostgreSQL',
    tag: 'health',
    access: 'public',
    responses: { 200: { description: 'Prometheus text format 0.0.4', contentType: 'text/plain', schema: z.string() } },
  },
} as const satisfies Record<string, RouteDoc>;

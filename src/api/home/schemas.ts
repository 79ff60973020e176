import { z } from 'zod';
import { noQuery, type RouteDoc } from '../common';

const linkSchema = z.object({ href: z.string(), title: z.string() }).strict();

/** GET /: where to go from here. */
export const indexSchema = z
  .object({
    name: z.string(),
    description: z.string(),
    links: z
      .object({
        self: linkSchema,
        docs: linkSchema,
        openapi: linkSchema,
        healthz: linkSchema,
        readyz: linkSchema,
        metrics: linkSchema,
        temporalUi: linkSchema
          .optional()
          .describe('Absent when the API was not told the Web UI’s URL (TEMPORAL_UI_URL)'),
      })
      .strict(),
  })
  .strict();
export type Index = z.infer<typeof indexSchema>;

export const homeRoutes = {
  index: {
    method: 'get',
    path: '/',
    operationId: 'getIndex',
    summary: 'Where to go from here: the docs, this document, the probes, the metrics and the Temporal Web UI',
    description:
      'JSON for API clients (no Accept, */* or application/json); an HTML page of the same links for a browser (text/html).',
    tag: 'docs',
    access: 'public',
    query: noQuery,
    responses: {
      200: {
        description: 'The index, in the content type the request accepts',
        schema: indexSchema,
        alternatives: { 'text/html': z.string() },
      },
      406: { description: 'Neither JSON nor HTML is acceptable', problems: ['not-acceptable'] },
    },
  },
} as const satisfies Record<string, RouteDoc>;

import { z } from 'zod';
import type { RouteDoc } from '../common';

export const openApiDocumentSchema = z
  .object({
    openapi: z.string(),
    info: z.object({ title: z.string(), version: z.string() }).catchall(z.unknown()),
    paths: z.record(z.string(), z.record(z.string(), z.unknown())),
    components: z.record(z.string(), z.unknown()),
  })
  .catchall(z.unknown())
  .describe('OpenAPI 3.1 document');

export const docsRoutes = {
  openApi: {
    method: 'get',
    path: '/openapi.json',
    operationId: 'getOpenApi',
    summary: 'This document: OpenAPI 3.1, generated from the zod schemas the API validates with',
    tag: 'docs',
    access: 'public',
    responses: { 200: { description: 'The OpenAPI document', schema: openApiDocumentSchema } },
  },
  docsPage: {
    method: 'get',
    path: '/docs',
    operationId: 'getDocs',
    summary: 'A self-contained HTML page listing every route (no external assets)',
    tag: 'docs',
    access: 'public',
    responses: { 200: { description: 'The page', contentType: 'text/html', schema: z.string() } },
  },
} as const satisfies Record<string, RouteDoc>;

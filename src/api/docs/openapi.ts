import { z } from 'zod';
import { problemSchema, type ProblemDoc, type ResponseDoc, type RouteDoc } from '../common';
import { customerRoutes } from '../customers/schemas';
import { harvestRoutes } from '../harvest/schemas';
import { healthRoutes } from '../health/schemas';
import { orderRoutes } from '../orders/schemas';
import { productRoutes } from '../products/schemas';
import { docsRoutes } from './schemas';

/** Every documented route. test/api/openapi.test.ts proves this equals what the Express app serves. */
export const ALL_ROUTES: readonly RouteDoc[] = [
  ...Object.values(healthRoutes),
  ...Object.values(docsRoutes),
  ...Object.values(productRoutes),
  ...Object.values(orderRoutes),
  ...Object.values(customerRoutes),
  ...Object.values(harvestRoutes),
];

type JsonSchema = Record<string, unknown> & {
  properties?: Record<string, Record<string, unknown>>;
  required?: string[];
};

/** zod -> JSON Schema 2020-12 (OpenAPI 3.1's dialect); requests as accepted, responses as sent. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

/** Express `/orders/:id` -> OpenAPI `/orders/{id}`. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

const PROBLEM_REF = { $ref: '#/components/schemas/Problem' };
const JSON_TYPE = 'application/json';
const PROBLEM_TYPE = 'application/problem+json';

function parameters(schema: z.ZodType | undefined, where: 'path' | 'query' | 'header') {
  if (!schema) return [];
  const js = jsonSchema(schema, 'input');
  return Object.entries(js.properties ?? {}).map(([name, property]) => {
    const { description, ...propertySchema } = property;
    return {
      name,
      in: where,
      required: where === 'path' || (js.required ?? []).includes(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: propertySchema,
    };
  });
}

/** Problems every route of a kind can answer with, besides its own. */
function commonProblems(route: RouteDoc): Record<number, ProblemDoc> {
  const out: Record<number, ProblemDoc> = {};
  if (route.params || route.query || route.headers || route.body) {
    out[400] = {
      description: 'Invalid request: `errors` names every bad field',
      problems: route.body ? ['validation', 'malformed-body', 'bad-request'] : ['validation', 'bad-request'],
    };
  }
  if (route.body) {
    out[413] = { description: 'Body over 64 kB', problems: ['payload-too-large'] };
    out[415] = { description: 'Body not JSON', problems: ['unsupported-media-type'] };
  }
  if (route.access !== 'public') {
    out[401] = { description: 'Missing or unknown API key', problems: ['unauthorized'] };
    out[429] = { description: 'Rate limited; see Retry-After', problems: ['rate-limited'] };
  }
  if (Array.isArray(route.access)) out[403] = { description: 'Wrong role', problems: ['forbidden'] };
  return out;
}

function isProblem(doc: ResponseDoc): doc is ProblemDoc {
  return 'problems' in doc;
}

function responseObject(doc: ResponseDoc) {
  if (isProblem(doc)) {
    return {
      description: `${doc.description}. Problem types: ${doc.problems.map((p) => `/problems/${p}`).join(', ')}`,
      content: { [PROBLEM_TYPE]: { schema: PROBLEM_REF } },
      'x-problem-types': doc.problems.map((p) => `/problems/${p}`),
    };
  }
  return {
    description: doc.description,
    ...(doc.schema
      ? { content: { [doc.contentType ?? JSON_TYPE]: { schema: jsonSchema(doc.schema, 'output') } } }
      : {}),
  };
}

function operation(route: RouteDoc) {
  const responses: Record<string, unknown> = {};
  const common = commonProblems(route);
  const statuses = [...new Set([...Object.keys(route.responses), ...Object.keys(common)].map(Number))].sort();
  for (const status of statuses) {
    const own = route.responses[status];
    const shared = common[status];
    const doc: ResponseDoc | undefined =
      own && shared && isProblem(own)
        ? { description: own.description, problems: [...new Set([...own.problems, ...shared.problems])] }
        : (own ?? shared);
    if (doc) responses[String(status)] = responseObject(doc);
  }
  responses.default = {
    description: 'Unexpected error (/problems/internal)',
    content: { [PROBLEM_TYPE]: { schema: PROBLEM_REF } },
  };
  const access = route.access;
  const roles = Array.isArray(access) ? access : [];
  const keyed = [{ bearerAuth: [] }, { apiKeyAuth: [] }];
  const who =
    access === 'public'
      ? 'no key'
      : access === 'optional'
        ? 'anyone (a key is optional)'
        : `roles: ${roles.join(', ')}`;
  return {
    operationId: route.operationId,
    summary: route.summary,
    description: [route.description, `Access: ${who}.`].filter(Boolean).join(' '),
    tags: [route.tag],
    security: access === 'public' ? [] : access === 'optional' ? [{}, ...keyed] : keyed,
    'x-access': access === 'public' || access === 'optional' ? access : roles,
    parameters: [
      ...parameters(route.params, 'path'),
      ...parameters(route.query, 'query'),
      ...parameters(route.headers, 'header'),
    ],
    ...(route.body
      ? { requestBody: { required: true, content: { [JSON_TYPE]: { schema: jsonSchema(route.body, 'input') } } } }
      : {}),
    responses,
  };
}

/** The OpenAPI 3.1 document of the API, generated from the same zod schemas the routers validate with. */
export function buildOpenApi(routes: readonly RouteDoc[] = ALL_ROUTES) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    const item = (paths[path] ??= {});
    if (item[route.method]) throw new Error(`${route.method.toUpperCase()} ${route.path} is documented twice`);
    item[route.method] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'harvest-to-door',
      version: '0.1.0',
      description:
        'Order fulfilment for a farm: every order is a Temporal workflow. Errors are application/problem+json ' +
        '(RFC 9457) with a stable `type`.',
    },
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <API key>' },
        apiKeyAuth: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
      },
      schemas: { Problem: jsonSchema(problemSchema, 'output') },
    },
  };
}
export type OpenApiDocument = ReturnType<typeof buildOpenApi>;

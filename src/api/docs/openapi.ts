import { z } from 'zod';
import { problemSchema, type LinkDoc, type ProblemDoc, type ResponseDoc, type RouteDoc } from '../common';
import { customerRoutes } from '../customers/schemas';
import { harvestRoutes } from '../harvest/schemas';
import { healthRoutes } from '../health/schemas';
import { homeRoutes } from '../home/schemas';
import { orderRoutes } from '../orders/schemas';
import { productRoutes } from '../products/schemas';
import { docsRoutes } from './schemas';

/** Every documented route. test/api/openapi.test.ts proves this equals what the Express app serves. */
export const ALL_ROUTES: readonly RouteDoc[] = [
  ...Object.values(homeRoutes),
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

/** JSON Schema keywords that assert something: one of them must state what a refinement checks. */
const ASSERTIONS = ['pattern', 'minLength', 'maxLength', 'uniqueItems', 'minimum', 'maximum', 'not', 'enum', 'const'];

/**
 * A `.refine()` is invisible to JSON Schema: on a request schema it would make the document looser
 * than the validation. Each one must carry, through `.meta()`, the keyword that says what it checks.
 * (zod visits a schema and the copy `.meta()` made of it at the same path, so paths are compared.)
 */
function refinementsStated(schema: z.ZodType): JsonSchema {
  const refined = new Set<string>();
  const stated = new Set<string>();
  const json = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'throw',
    override: ({ zodSchema, path }) => {
      const checks = (zodSchema._zod.def as { checks?: z.core.$ZodCheck[] }).checks ?? [];
      if (!checks.some((c) => c._zod.def.check === 'custom')) return;
      const at = path.join('.') || '(root)';
      refined.add(at);
      const meta = z.globalRegistry.get(zodSchema) ?? {};
      if (ASSERTIONS.some((k) => k in meta)) stated.add(at);
    },
  }) as JsonSchema;
  const silent = [...refined].filter((at) => !stated.has(at));
  if (silent.length > 0)
    throw new Error(`Request schema refinements the document cannot see, at: ${silent.join(', ')}`);
  return json;
}

/**
 * zod -> JSON Schema 2020-12 (OpenAPI 3.1's dialect): requests as accepted (every rule stated),
 * responses as sent.
 */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } =
    io === 'input' ? refinementsStated(schema) : (z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema);
  return rest;
}

/** Express `/orders/:id` -> OpenAPI `/orders/{id}`. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

const PROBLEM_REF = { $ref: '#/components/schemas/Problem' };
const JSON_TYPE = 'application/json';
const PROBLEM_TYPE = 'application/problem+json';

const ONCE = 'Give it at most once: a repeated parameter is refused (400).';

/** A parameter is one value in the URL or a header: a string (or an enum of them), never a list or an object. */
function assertScalar(name: string, schema: Record<string, unknown>): void {
  if (schema.type !== 'string') throw new Error(`Parameter ${name} is not a single string: ${JSON.stringify(schema)}`);
}

function parameters(schema: z.ZodType | undefined, where: 'path' | 'query' | 'header') {
  if (!schema) return [];
  const js = jsonSchema(schema, 'input');
  return Object.entries(js.properties ?? {}).map(([name, property]) => {
    const { description, ...propertySchema } = property;
    assertScalar(name, propertySchema);
    const text = [description, where === 'query' ? ONCE : undefined].filter(Boolean).join('. ');
    return {
      name,
      in: where,
      required: where === 'path' || (js.required ?? []).includes(name),
      ...(text ? { description: text } : {}),
      // One value, never a list: `form` with `explode: false` would write a list as a,b, which no parameter takes.
      ...(where === 'query' ? { style: 'form', explode: false } : {}),
      schema: propertySchema,
    };
  });
}

/** Problems every route of a kind can answer with, besides its own. */
function commonProblems(route: RouteDoc): Record<number, ProblemDoc> {
  const out: Record<number, ProblemDoc> = {};
  if (route.params || route.query || route.headers || route.body) {
    out[400] = {
      description: 'Invalid request: `errors` names every bad field (unknown query parameters are refused too)',
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

function linkObject(link: LinkDoc) {
  return { operationId: link.operationId, parameters: link.parameters, description: link.description };
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
    ...(doc.headers
      ? {
          headers: Object.fromEntries(
            Object.entries(doc.headers).map(([name, h]) => [
              name,
              { description: h.description, schema: jsonSchema(h.schema, 'output') },
            ]),
          ),
        }
      : {}),
    ...(doc.schema
      ? {
          content: {
            [doc.contentType ?? JSON_TYPE]: { schema: jsonSchema(doc.schema, 'output') },
            ...Object.fromEntries(
              Object.entries(doc.alternatives ?? {}).map(([type, schema]) => [
                type,
                { schema: jsonSchema(schema, 'output') },
              ]),
            ),
          },
        }
      : {}),
    ...(doc.links
      ? { links: Object.fromEntries(Object.entries(doc.links).map(([name, l]) => [name, linkObject(l)])) }
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

type Operation = ReturnType<typeof operation>;

/** The schema a JSON pointer such as `/data/0/orderId` points to inside `schema`, if it names one. */
function schemaAt(schema: JsonSchema | undefined, pointer: string): JsonSchema | undefined {
  let at = schema;
  for (const token of pointer.split('/').slice(1)) {
    if (!at) return undefined;
    at = /^\d+$/.test(token) ? (at.items as JsonSchema | undefined) : at.properties?.[token];
  }
  return at;
}

/**
 * Every link must lead somewhere real: an operation of the document, parameters it takes, and a
 * `$response.body#/...` expression that names a property of the response it starts from.
 */
function checkLinks(operations: Map<string, Operation>): void {
  for (const [from, op] of operations) {
    for (const [status, raw] of Object.entries(op.responses)) {
      const response = raw as {
        links?: Record<string, LinkDoc>;
        content?: Record<string, { schema: JsonSchema }>;
      };
      for (const [name, link] of Object.entries(response.links ?? {})) {
        const where = `link ${name} of ${from} ${status}`;
        const target = operations.get(link.operationId);
        if (!target) throw new Error(`${where}: no operation ${link.operationId}`);
        for (const [param, expression] of Object.entries(link.parameters)) {
          if (!target.parameters.some((p) => p.name === param)) {
            throw new Error(`${where}: ${link.operationId} takes no parameter ${param}`);
          }
          const pointer = /^\$response\.body#(\/.*)$/.exec(expression)?.[1];
          if (!pointer || !schemaAt(response.content?.[JSON_TYPE]?.schema, pointer)) {
            throw new Error(`${where}: ${expression} names nothing in the response body`);
          }
        }
      }
    }
  }
}

const METHOD_NOT_ALLOWED = {
  description:
    'The path exists but not with this method (/problems/method-not-allowed); `Allow` lists the methods it takes',
  headers: { Allow: { description: 'The methods of this path, e.g. GET, HEAD, OPTIONS', schema: { type: 'string' } } },
  content: { [PROBLEM_TYPE]: { schema: PROBLEM_REF } },
};

/** The OpenAPI 3.1 document of the API, generated from the same zod schemas the routers validate with. */
export function buildOpenApi(routes: readonly RouteDoc[] = ALL_ROUTES) {
  const paths: Record<string, Record<string, unknown>> = {};
  const operations = new Map<string, Operation>();
  for (const route of routes) {
    const path = openApiPath(route.path);
    const item = (paths[path] ??= {});
    if (item[route.method]) throw new Error(`${route.method.toUpperCase()} ${route.path} is documented twice`);
    const op = operation(route);
    item[route.method] = op;
    operations.set(op.operationId, op);
  }
  checkLinks(operations);
  return {
    openapi: '3.1.0',
    info: {
      title: 'harvest-to-door',
      version: '0.1.0',
      description:
        'Order fulfilment for a farm: every order is a Temporal workflow. Errors are application/problem+json ' +
        '(RFC 9457) with a stable `type`. Every rule the API validates a request with is stated here: a request ' +
        'this document calls valid is never refused as invalid (400). A path called with a method it does not ' +
        'take answers 405 /problems/method-not-allowed with `Allow` (components.responses.MethodNotAllowed); ' +
        'OPTIONS on a path answers 204 with `Allow`; HEAD works wherever GET does.',
    },
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <API key>' },
        apiKeyAuth: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
      },
      schemas: { Problem: jsonSchema(problemSchema, 'output') },
      responses: { MethodNotAllowed: METHOD_NOT_ALLOWED },
    },
  };
}
export type OpenApiDocument = ReturnType<typeof buildOpenApi>;

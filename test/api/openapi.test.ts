import type { Express } from 'express';
import request from 'supertest';
import { z } from 'zod';
import type { RouteDoc } from '../../src/api/common';
import { ALL_ROUTES, buildOpenApi, openApiPath } from '../../src/api/docs/openapi';
import type { Db } from '../../src/db/client';
import { isValid, type Schema } from '../support/json-schema';
import { createOfflineApp } from './helpers';

/**
 * The documentation is the contract: /openapi.json must list exactly the routes the Express app
 * serves, so a route cannot be added (or removed) without its documentation following.
 * /openapi.json and /docs touch neither PostgreSQL nor Temporal, so this file builds the app with
 * lazy clients that never connect.
 */

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
  rawPath?: string | string[];
}

/** Every `METHOD /path` the app routes, found by walking the router stack (nested routers included). */
function registeredRoutes(app: Express): string[] {
  const found: string[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const path of paths) {
          for (const [method, on] of Object.entries(layer.route.methods)) {
            if (on && method !== '_all') found.push(`${method.toUpperCase()} ${openApiPath(prefix + path)}`);
          }
        }
      } else if (layer.handle.stack) {
        const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
        walk(layer.handle.stack, prefix + mount);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return found.sort();
}

type Doc = ReturnType<typeof buildOpenApi>;
type Operation = {
  operationId: string;
  parameters: { name: string; in: string; required: boolean; schema: unknown }[];
  requestBody?: { required: boolean; content: Record<string, { schema: unknown }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
  security: Record<string, string[]>[];
  'x-access': unknown;
};

function documentedRoutes(doc: Doc): string[] {
  return Object.entries(doc.paths)
    .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();
}

function operations(doc: Doc): { key: string; path: string; op: Operation }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, path, op: op as Operation })),
  );
}

/** Every `$ref` in the document, anywhere. */
function refs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => refs(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

describe('OpenAPI document', () => {
  let app: Express;
  let db: Db;
  let doc: Doc;
  beforeAll(() => {
    ({ app, db } = createOfflineApp());
    doc = buildOpenApi();
  });
  afterAll(() => db.$disconnect());

  it('when the app is built, then the documented paths and methods are exactly the routes Express serves', () => {
    const served = registeredRoutes(app);
    expect(served.length).toBeGreaterThanOrEqual(17);
    expect(documentedRoutes(doc)).toEqual(served);
  });

  it('when a route is added without documentation, then the comparison notices', async () => {
    const { app: extended, db: other } = createOfflineApp();
    extended.delete('/orders/:id', (_req, res) => void res.end());
    const served = registeredRoutes(extended);
    const documented = documentedRoutes(doc);
    expect(served.filter((r) => !documented.includes(r))).toEqual(['DELETE /orders/{id}']);
    await other.$disconnect();
  });

  it('when served, then /openapi.json is an OpenAPI 3.1 document with paths, components and both security schemes', async () => {
    const res = await request(app).get('/openapi.json').set('Authorization', 'Bearer not-a-key');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.body).toEqual(JSON.parse(JSON.stringify(doc)));
    expect(res.body.openapi).toMatch(/^3\.1\.\d+$/);
    expect(res.body.info).toEqual(expect.objectContaining({ title: expect.any(String), version: expect.any(String) }));
    expect(res.body.components.securitySchemes).toEqual({
      bearerAuth: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
      apiKeyAuth: expect.objectContaining({ type: 'apiKey', in: 'header', name: 'X-Api-Key' }),
    });
    expect(res.body.components.schemas.Problem).toEqual(
      expect.objectContaining({ type: 'object', required: expect.arrayContaining(['type', 'title', 'status']) }),
    );
  });

  it('when read as a whole, then every $ref resolves, operationIds are unique and every security requirement names a scheme', () => {
    for (const ref of refs(doc)) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      const name = ref.split('/').at(-1)!;
      expect(doc.components.schemas).toHaveProperty(name);
    }
    const ids = operations(doc).map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { op } of operations(doc)) {
      for (const requirement of op.security) {
        for (const scheme of Object.keys(requirement)) expect(doc.components.securitySchemes).toHaveProperty(scheme);
      }
    }
  });

  it.each(operations(buildOpenApi()).map((o) => [o.key, o] as const))(
    'when %s is documented, then its path parameters, body and responses (problems included) are described',
    (_key, { path, op }) => {
      const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      const declared = op.parameters.filter((p) => p.in === 'path');
      expect(declared.map((p) => p.name).sort()).toEqual(templated.sort());
      expect(declared.every((p) => p.required)).toBe(true);
      for (const p of op.parameters) {
        expect(['path', 'query', 'header']).toContain(p.in);
        expect(p.schema).toEqual(expect.any(Object));
      }
      const statuses = Object.keys(op.responses);
      expect(statuses.some((s) => /^2\d\d$/.test(s))).toBe(true);
      expect(statuses).toContain('default');
      for (const [status, response] of Object.entries(op.responses)) {
        expect(response.description).toEqual(expect.any(String));
        if (/^[45]\d\d$/.test(status) || status === 'default') {
          if (status !== '503') {
            expect(response.content).toEqual({
              'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } },
            });
          }
        }
      }
      if (op.requestBody) {
        expect(op.requestBody.required).toBe(true);
        expect(Object.keys(op.requestBody.content)).toEqual(['application/json']);
        for (const s of ['400', '413', '415']) expect(statuses).toContain(s);
      }
      if (op.parameters.length > 0) expect(statuses).toContain('400');
      if (Array.isArray(op['x-access'])) {
        for (const s of ['401', '403']) expect(statuses).toContain(s);
        expect(op.security).toEqual([{ bearerAuth: [] }, { apiKeyAuth: [] }]);
      }
    },
  );

  it('when POST /orders is documented, then its body is the strict order schema: no price, status or owner', () => {
    const op = doc.paths['/orders']!.post as Operation;
    const schema = op.requestBody!.content['application/json']!.schema as {
      properties: Record<string, { items?: { properties: Record<string, unknown> } }>;
      required: string[];
      additionalProperties: boolean;
    };
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties).sort()).toEqual(
      ['acceptPartial', 'lines', 'paymentMethod', 'shippingAddress'].sort(),
    );
    expect(Object.keys(schema.properties.lines!.items!.properties).sort()).toEqual(['quantity', 'sku']);
    expect(schema.required.sort()).toEqual(['lines', 'shippingAddress']);
    expect(op.parameters).toEqual([
      expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: false }),
    ]);
    expect(Object.keys(op.responses)).toEqual(
      expect.arrayContaining(['202', '400', '401', '403', '413', '415', '422', '429', 'default']),
    );
  });

  it('when /docs is opened, then a self-contained HTML page lists every route, with no scripts or outside assets', async () => {
    const res = await request(app).get('/docs');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.text).not.toMatch(/<script|<link|src=|https?:\/\//i);
    for (const { key, path } of operations(doc)) {
      const method = key.split(' ')[0]!;
      expect(res.text).toContain(`<td><code>${method}</code></td><td><code>${path}</code></td>`);
    }
  });
  /** The JSON Schema of a parameter or of a body property (by dotted path) of an operation. */
  function schemaOf(method: string, path: string, where: string): Schema {
    const op = (doc.paths as Record<string, Record<string, Operation>>)[path]![method]!;
    const [head, ...rest] = where.split('.');
    if (head === 'body') {
      let at = op.requestBody!.content['application/json']!.schema as Schema;
      for (const key of rest) at = (at.properties as Record<string, Schema>)[key]!;
      return at;
    }
    return op.parameters.find((p) => p.name === head)!.schema as Schema;
  }

  it.each([
    ['get', '/orders', 'limit', ['0', '101', '020', '1e2'], ['1', '20', '100']],
    [
      'get',
      '/orders',
      'createdFrom',
      ['1969-12-31', '0000-01-01', '2026-02-30', '2100-02-29', '2026-01-01T00:00:00'],
      ['1970-01-01', '2024-02-29', '2026-01-01T08:00:00.5+01:00'],
    ],
    ['get', '/orders', 'cursor', ['any-string', 'eyJ4Ijox', '123.', '.o-1'], ['1795334400000.o-1f2e']],
    ['get', '/customers/{id}/orders', 'limit', ['0'], ['5']],
    ['post', '/admin/products/{sku}/adjust', 'body.delta', [0, 100_001, 1.5], [1, -1, 100_000]],
    [
      'post',
      '/admin/products/{sku}/adjust',
      'body.reason',
      ['', '   ', '\t', 'a\u0000b', 'a\u0007', 'x\ud800', 'x'.repeat(201)],
      ['slugs', ' padded ', '🍅'.repeat(200)],
    ],
    ['post', '/orders/{id}/cancel', 'body.reason', ['\n', 'a\u000bb'], ['line one\nline two\ttabbed']],
    [
      'post',
      '/products/availability',
      'body.skus',
      [['TOM-HEIRLOOM', 'TOM-HEIRLOOM'], []],
      [['TOM-HEIRLOOM', 'LET-BUTTER']],
    ],
    ['post', '/orders', 'Idempotency-Key', ['short', 'has space-in-it', 'x'.repeat(65)], ['order-2026-0001']],
  ] as const)(
    'when %s %s states %s, then the values validation refuses are outside it and the ones it accepts inside',
    (method, path, where, refused, accepted) => {
      const schema = schemaOf(method, path, where);
      for (const value of refused) expect([value, isValid(schema, value)]).toEqual([value, false]);
      for (const value of accepted) expect([value, isValid(schema, value)]).toEqual([value, true]);
    },
  );

  it('when a query parameter is documented, then it is one string, given at most once', () => {
    for (const { op } of operations(doc)) {
      for (const p of op.parameters.filter((q) => q.in === 'query')) {
        const param = p as typeof p & { style?: string; explode?: boolean; description?: string };
        expect(param).toMatchObject({
          style: 'form',
          explode: false,
          schema: expect.objectContaining({ type: 'string' }),
        });
        expect(param.description).toMatch(/at most once/);
      }
    }
  });

  it('when POST /orders and the lists answer, then links lead to the order’s operations by runtime expressions', () => {
    const links = (method: string, path: string, status: string) =>
      (doc.paths as Record<string, Record<string, { responses: Record<string, { links?: Record<string, unknown> }> }>>)[
        path
      ]![method]!.responses[status]!.links;
    const order = (pointer: string) =>
      Object.fromEntries(
        ['getOrder', 'listOrderEvents', 'getOrderReceipt', 'cancelOrder'].map((id) => [
          id,
          expect.objectContaining({ operationId: id, parameters: { id: `$response.body#${pointer}` } }),
        ]),
      );
    expect(links('post', '/orders', '202')).toEqual(order('/orderId'));
    expect(links('get', '/orders', '200')).toEqual(order('/data/0/orderId'));
    expect(links('get', '/customers/{id}/orders', '200')).toEqual(order('/data/0/orderId'));
    expect(links('get', '/harvest-tasks', '200')).toMatchObject({
      completeHarvestTask: { operationId: 'completeHarvestTask', parameters: { id: '$response.body#/data/0/id' } },
    });
  });

  it('when a link names a missing operation, parameter or response field, then the document is not built', () => {
    const create = ALL_ROUTES.find((r) => r.operationId === 'createOrder')!;
    const withLink = (link: object): RouteDoc => ({
      ...create,
      responses: { 202: { description: 'x', schema: z.object({ orderId: z.string() }), links: { l: link as never } } },
    });
    const others = ALL_ROUTES.filter((r) => r !== create);
    const build = (link: object) => () => buildOpenApi([...others, withLink(link)]);
    expect(build({ operationId: 'nope', parameters: {}, description: '' })).toThrow(/no operation nope/);
    expect(build({ operationId: 'getOrder', parameters: { sku: '$response.body#/orderId' }, description: '' })).toThrow(
      /takes no parameter sku/,
    );
    expect(build({ operationId: 'getOrder', parameters: { id: '$response.body#/missing' }, description: '' })).toThrow(
      /names nothing/,
    );
  });

  it('when a request schema has a refinement the document cannot see, then the document is not built', () => {
    const route: RouteDoc = {
      method: 'post',
      path: '/refined',
      operationId: 'refined',
      summary: 'x',
      tag: 'x',
      access: 'public',
      body: z.object({ n: z.number().refine((n) => n !== 13, 'unlucky') }).strict(),
      responses: { 200: { description: 'ok' } },
    };
    expect(() => buildOpenApi([route])).toThrow(/refinements the document cannot see, at: properties.n/);
    const stated = {
      ...route,
      body: z.object({
        n: z
          .number()
          .refine((n) => n !== 13)
          .meta({ not: { const: 13 } }),
      }),
    };
    expect(() => buildOpenApi([stated])).not.toThrow();
  });

  it('when a wrong method is documented, then 405 method-not-allowed with Allow is a component and the info says so', () => {
    expect(doc.components.responses.MethodNotAllowed).toMatchObject({
      headers: { Allow: expect.any(Object) },
      content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
    });
    expect(doc.info.description).toMatch(/405 \/problems\/method-not-allowed/);
    expect(doc.info.description).toMatch(/OPTIONS .* 204/);
  });
});

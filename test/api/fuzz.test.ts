import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import fc from 'fast-check';
import request from 'supertest';
import { problemSchema } from '../../src/api/common';
import { orderIdFor } from '../../src/api/orders/router';
import { orderWorkflowId } from '../../src/workflows/definitions';
import { address, createApiHarness, listen, orderBody, submitAndAwaitHarvest, type ApiHarness } from './helpers';

/**
 * Property: no request, however malformed, yields a 5xx, starts a workflow, signals one or changes
 * a row. Thousands of generated bad requests go through the real API (real PostgreSQL, Temporal
 * test server and worker); afterwards the database, the Temporal server and a victim order waiting
 * for its harvest must be exactly as before.
 *
 * Every generated request is bad *by construction* (a defect is chosen, then applied), so the test
 * does not ask the API's own schemas what "bad" means.
 */

const RUNS = {
  orders: 700,
  cancel: 200,
  harvest: 200,
  adjust: 200,
  reads: 300,
  availability: 100,
  random: 200,
  raw: 100,
};

const TABLES = [
  'products',
  'stock_adjustments',
  'customers',
  'orders',
  'order_lines',
  'reservations',
  'harvest_tasks',
  'packages',
  'payments',
  'refunds',
  'shipments',
  'shipment_attempts',
  'notifications',
  'order_events',
];

const PRINCIPALS = {
  customer: { Authorization: 'Bearer demo-customer-key' },
  other: { Authorization: 'Bearer other-customer-key' },
  ghost: { Authorization: 'Bearer ghost-customer-key' },
  crew: { Authorization: 'Bearer demo-crew-key' },
  admin: { 'X-Api-Key': 'demo-admin-key' },
  unknown: { Authorization: 'Bearer not-a-key' },
  none: {},
} as const;
type PrincipalName = keyof typeof PRINCIPALS;
const SUBJECTS: Partial<Record<PrincipalName, string>> = {
  customer: 'cust-demo',
  other: 'cust-other',
  ghost: 'cust-ghost',
};

// ---- Generators --------------------------------------------------------------------------------

const json = fc.jsonValue({ maxDepth: 3 });
const notString = json.filter((v) => typeof v !== 'string');
const notBoolean = json.filter((v) => typeof v !== 'boolean');
const notNumber = json.filter((v) => typeof v !== 'number');
const notArray = json.filter((v) => !Array.isArray(v));
const notObject = json.filter((v) => v === null || typeof v !== 'object' || Array.isArray(v));
/** Header-safe printable ASCII (Node refuses to send anything else in a header). */
const ascii = (options: { minLength?: number; maxLength?: number } = {}) =>
  fc.string({ unit: 'grapheme-ascii', ...options });
const anyText = fc.oneof(fc.string({ unit: 'binary', maxLength: 30 }), ascii({ maxLength: 30 }), fc.string());
const loneSurrogate = fc.constantFrom('\ud800', 'a\udc00b', 'x\udbff');
const control = fc.integer({ min: 0, max: 31 }).map((c) => `a${String.fromCharCode(c === 9 || c === 10 ? 0 : c)}b`);
const blank = fc.constantFrom('', ' ', '   ', '\t', '\n', '\u00a0', '\u2003 \u3000');

/** A SKU the pattern /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/ refuses. */
const badSku = fc.oneof(
  fc.constant(''),
  fc.constantFrom(
    '-LEAD',
    '_LEAD',
    'A'.repeat(65),
    'TOM HEIRLOOM',
    'TOM/HEIRLOOM',
    'TOM.1',
    'ÄPFEL',
    '🍅',
    'TOM\u0000',
  ),
  fc
    .tuple(fc.stringMatching(/^[A-Z0-9]{1,10}$/), fc.constantFrom(' ', '.', '/', '%', '<', '"', 'é', '\u0000', '🍅'))
    .map(([s, c]) => `${s}${c}${s}`),
);
/** Quantities zod's int().min(1).max(1000) refuses. */
const badQuantity = fc.oneof(
  fc.integer({ max: 0 }),
  fc.integer({ min: 1001 }),
  fc.double({ min: 0.001, max: 999.999, noNaN: true }).filter((d) => !Number.isInteger(d)),
  fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 2 ** 53, 1e21, -0.5),
);
/** Text our safeText refuses: blank, too long, control characters, lone surrogates. */
const badText = (max: number) => fc.oneof(blank, fc.constant('x'.repeat(max + 1)), control, loneSurrogate, notString);
const badIdempotencyKey = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_-]{1,7}$/),
  fc.stringMatching(/^[A-Za-z0-9_-]{65,80}$/),
  fc
    .tuple(
      fc.stringMatching(/^[A-Za-z0-9_-]{4,20}$/),
      fc.constantFrom(
        '!',
        '"',
        '#',
        '$',
        '%',
        '&',
        "'",
        '(',
        '*',
        '+',
        ',',
        '.',
        '/',
        ':',
        ';',
        '<',
        '=',
        '?',
        '@',
        '[',
        '\\',
        ']',
        '^',
        '`',
        '{',
        '|',
        '}',
        '~',
      ),
      fc.stringMatching(/^[A-Za-z0-9_-]{4,20}$/),
    )
    .map(([a, c, b]) => `${a}${c}${b}`),
  fc.constant('valid-key-1, valid-key-2'),
);
const goodKey = () => `fuzz-${randomUUID()}`;

type Json = unknown;

/** Set a value at a path (copying), or delete it when `value` is DELETE. */
const DELETE = Symbol('delete');
function setAt(target: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  const copy: Record<string | number, unknown> = Array.isArray(target)
    ? ([...(target as unknown[])] as unknown as Record<number, unknown>)
    : { ...(target as Record<string, unknown>) };
  if (rest.length === 0 && value === DELETE) delete copy[head];
  else copy[head] = setAt(copy[head], rest, value);
  return copy;
}

const FORBIDDEN_FIELDS = ['priceCents', 'unitPriceCents', 'status', 'customerId', 'owner', 'chargedCents', 'total'];
const extraKey = (known: string[]) =>
  fc
    .oneof(fc.constantFrom(...FORBIDDEN_FIELDS), ascii({ minLength: 1, maxLength: 12 }))
    .filter((k) => !known.includes(k) && k !== '__proto__');

/** One body defect of POST /orders, applied to a valid body. */
const orderBodyDefect: fc.Arbitrary<(body: Json) => Json> = fc.oneof(
  fc
    .constantFrom<(string | number)[]>(
      ['lines'],
      ['shippingAddress'],
      ['lines', 0, 'sku'],
      ['lines', 0, 'quantity'],
      ['shippingAddress', 'name'],
      ['shippingAddress', 'line1'],
      ['shippingAddress', 'city'],
      ['shippingAddress', 'postalCode'],
      ['shippingAddress', 'country'],
    )
    .map((path) => (b: Json) => setAt(b, path, DELETE)),
  fc
    .tuple(
      fc.constantFrom<[(string | number)[], string[]]>(
        [[], ['lines', 'acceptPartial', 'paymentMethod', 'shippingAddress']],
        [
          ['lines', 0],
          ['sku', 'quantity'],
        ],
        [['shippingAddress'], ['name', 'line1', 'city', 'postalCode', 'country']],
      ),
      json,
    )
    .chain(([[at, known], value]) => extraKey(known).map((key) => (b: Json) => setAt(b, [...at, key], value))),
  fc.tuple(fc.constant<(string | number)[]>(['lines']), notArray).map(
    ([p, v]) =>
      (b: Json) =>
        setAt(b, p, v),
  ),
  fc.tuple(fc.constant<(string | number)[]>(['lines', 0]), notObject).map(
    ([p, v]) =>
      (b: Json) =>
        setAt(b, p, v),
  ),
  fc.tuple(fc.constant<(string | number)[]>(['lines', 0, 'quantity']), fc.oneof(notNumber, badQuantity)).map(
    ([p, v]) =>
      (b: Json) =>
        setAt(b, p, v),
  ),
  fc.tuple(fc.constant<(string | number)[]>(['lines', 0, 'sku']), fc.oneof(notString, badSku)).map(
    ([p, v]) =>
      (b: Json) =>
        setAt(b, p, v),
  ),
  fc.tuple(fc.constant<(string | number)[]>(['acceptPartial']), notBoolean).map(
    ([p, v]) =>
      (b: Json) =>
        setAt(b, p, v),
  ),
  fc
    .tuple(
      fc.constant<(string | number)[]>(['paymentMethod']),
      fc.oneof(
        notString,
        anyText.filter((s) => !/^pm_[A-Za-z0-9_]{1,60}$/.test(s)),
      ),
    )
    .map(
      ([p, v]) =>
        (b: Json) =>
          setAt(b, p, v),
    ),
  fc.tuple(fc.constant<(string | number)[]>(['shippingAddress']), notObject).map(
    ([p, v]) =>
      (b: Json) =>
        setAt(b, p, v),
  ),
  fc.tuple(fc.constantFrom('name', 'line1', 'city'), badText(200)).map(
    ([f, v]) =>
      (b: Json) =>
        setAt(b, ['shippingAddress', f], v),
  ),
  badText(20).map((v) => (b: Json) => setAt(b, ['shippingAddress', 'postalCode'], v)),
  fc
    .oneof(
      notString,
      anyText.filter((s) => !/^[A-Z]{2}$/.test(s)),
    )
    .map((v) => (b: Json) => setAt(b, ['shippingAddress', 'country'], v)),
  fc.constant((b: Json) => setAt(b, ['lines'], [])),
  fc.constant((b: Json) =>
    setAt(
      b,
      ['lines'],
      Array.from({ length: 51 }, (_, i) => ({ sku: `S${i}`, quantity: 1 })),
    ),
  ),
  notObject.map((v) => () => v),
  fc.constant((b: Json) => [b]),
  fc.constant((b: Json) => setAt(b, ['padding'], 'x'.repeat(70_000))),
);

interface Spec {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete' | 'options' | 'head';
  path: string;
  principal: PrincipalName | { Authorization: string };
  headers?: Record<string, string>;
  /** A JSON value to send as application/json, or raw text with its own content type. */
  body?: { json: unknown } | { raw: string; contentType?: string; encoding?: string };
  /** The order ID a workflow would get if this request were (wrongly) accepted. */
  wouldBeOrder?: string;
}

const customerPrincipal = fc.constantFrom<PrincipalName>('customer', 'other');
const garbageAuth = fc.oneof(
  fc.constantFrom('Bearer', 'Bearer ', 'Basic ZGVtbzpkZW1v', 'bearer demo-customer-key', 'Token demo-admin-key'),
  ascii({ maxLength: 40 }).map((s) => `Bearer ${s}`),
);

/** Content types / encodings under which a valid JSON text must still be refused. */
const badTransport = fc.constantFrom(
  { contentType: 'text/plain' },
  { contentType: 'application/x-www-form-urlencoded' },
  { contentType: 'application/xml' },
  { contentType: 'multipart/form-data; boundary=xyz' },
  { contentType: 'application/json; charset=latin1' },
  { contentType: 'application/json; charset=utf-16' },
  { contentType: 'application/json', encoding: 'gzip' },
  { contentType: 'application/json', encoding: 'x-compress-me' },
);

/** POST /orders with at least one defect: body, Idempotency-Key, principal or transport. */
const authDefect = fc.oneof(
  fc.constantFrom<PrincipalName>('ghost', 'crew', 'admin', 'unknown', 'none'),
  garbageAuth.map((a) => ({ Authorization: a })),
);
interface OrderDefects {
  body: ((body: Json) => Json)[];
  key?: string;
  auth?: Spec['principal'];
  transport?: { contentType: string; encoding?: string };
}
/**
 * Mostly one defect at a time, so that each check (every field, the key, the principal, the
 * transport) is the only thing standing between the request and a workflow; sometimes several.
 */
const orderDefects: fc.Arbitrary<OrderDefects> = fc.oneof(
  { weight: 8, arbitrary: orderBodyDefect.map((d) => ({ body: [d] })) },
  { weight: 2, arbitrary: badIdempotencyKey.map((key) => ({ body: [], key })) },
  { weight: 2, arbitrary: authDefect.map((auth) => ({ body: [], auth })) },
  { weight: 1, arbitrary: badTransport.map((transport) => ({ body: [], transport })) },
  {
    weight: 2,
    arbitrary: fc
      .record({
        body: fc.array(orderBodyDefect, { maxLength: 3 }),
        key: fc.option(badIdempotencyKey, { nil: undefined }),
        auth: fc.option(authDefect, { nil: undefined }),
        transport: fc.option(badTransport, { nil: undefined }),
      })
      .filter((d) => d.body.length > 0 || d.key !== undefined || d.auth !== undefined || d.transport !== undefined),
  },
);

/** POST /orders with at least one defect: body, Idempotency-Key, principal or transport. */
const ordersSpec: fc.Arbitrary<Spec> = fc.tuple(orderDefects, customerPrincipal).map(([d, customer]) => {
  const body = d.body.reduce<Json>((b, defect) => defect(b), orderBody());
  const principal = d.auth ?? customer;
  const key = d.key ?? goodKey();
  const subject = typeof principal === 'string' ? SUBJECTS[principal] : undefined;
  return {
    method: 'post',
    path: '/orders',
    principal,
    headers: { 'Idempotency-Key': key },
    body: d.transport ? { raw: JSON.stringify(body) ?? 'null', ...d.transport } : { json: body },
    wouldBeOrder: subject ? orderIdFor(subject, key.trim()) : undefined,
  } satisfies Spec;
});

const validReason = fc.constantFrom('changed my mind', 'moving house', 'ordered twice');
const cancelBodyDefect = fc.oneof(
  fc.constant({}),
  notString.map((reason) => ({ reason })),
  blank.map((reason) => ({ reason })),
  fc.constant({ reason: 'x'.repeat(501) }),
  fc.constant({ reason: 'a\u0000b' }),
  loneSurrogate.map((reason) => ({ reason })),
  fc.tuple(validReason, extraKey(['reason']), json).map(([reason, k, v]) => ({ reason, [k]: v })),
  notObject,
);

function cancelSpec(victim: string): fc.Arbitrary<Spec> {
  return fc.oneof(
    fc.tuple(fc.constantFrom<PrincipalName>('customer', 'admin'), cancelBodyDefect).map(([principal, body]): Spec => ({
      method: 'post',
      path: `/orders/${victim}/cancel`,
      principal,
      body: { json: body },
    })),
    fc
      .tuple(fc.constantFrom<PrincipalName>('other', 'ghost', 'crew', 'unknown', 'none'), validReason)
      .map(([principal, reason]): Spec => ({
        method: 'post',
        path: `/orders/${victim}/cancel`,
        principal,
        body: { json: { reason } },
      })),
    fc
      .tuple(fc.constantFrom<PrincipalName>('customer', 'admin'), badTransport, validReason)
      .map(([principal, transport, reason]): Spec => ({
        method: 'post',
        path: `/orders/${victim}/cancel`,
        principal,
        body: { raw: JSON.stringify({ reason }), ...transport },
      })),
  );
}

/** The victim ordered TOM-HEIRLOOM x2 and LET-BUTTER x1. */
const validYields = fc.constant([
  { sku: 'TOM-HEIRLOOM', quantity: 2 },
  { sku: 'LET-BUTTER', quantity: 1 },
]);
const yieldsDefect = fc.oneof(
  fc
    .tuple(fc.constantFrom('KAL-LACINATO', 'POT-YUKON', 'STR-ALBION', 'NOPE'), fc.integer({ min: 0, max: 5 }))
    .map(([sku, quantity]) => ({ yields: [{ sku, quantity }] })),
  fc.integer({ min: 3, max: 1000 }).map((quantity) => ({ yields: [{ sku: 'TOM-HEIRLOOM', quantity }] })),
  fc
    .oneof(
      badQuantity.filter((q) => q < 0 || !Number.isInteger(q) || q > 1000),
      notNumber,
    )
    .map((quantity) => ({
      yields: [{ sku: 'TOM-HEIRLOOM', quantity }],
    })),
  fc.oneof(badSku, notString).map((sku) => ({ yields: [{ sku, quantity: 1 }] })),
  fc.constant({ yields: [] }),
  // Yields naming the same SKU are added up: 2 + 1 is more than the 2 ordered.
  fc.constant({
    yields: [
      { sku: 'TOM-HEIRLOOM', quantity: 2 },
      { sku: 'TOM-HEIRLOOM', quantity: 1 },
    ],
  }),
  fc.constant({ yields: Array.from({ length: 51 }, () => ({ sku: 'TOM-HEIRLOOM', quantity: 1 })) }),
  fc.tuple(extraKey(['yields']), json).map(([k, v]) => ({ yields: [{ sku: 'TOM-HEIRLOOM', quantity: 1 }], [k]: v })),
  fc
    .tuple(extraKey(['sku', 'quantity']), json)
    .map(([k, v]) => ({ yields: [{ sku: 'TOM-HEIRLOOM', quantity: 1, [k]: v }] })),
  notArray.map((yields) => ({ yields })),
  notObject,
);

function harvestSpec(victim: string): fc.Arbitrary<Spec> {
  const path = `/harvest-tasks/hv-${victim}/complete`;
  return fc.oneof(
    fc
      .tuple(fc.constantFrom<PrincipalName>('crew', 'admin'), yieldsDefect)
      .map(([principal, body]): Spec => ({ method: 'post', path, principal, body: { json: body } })),
    fc
      .tuple(fc.constantFrom<PrincipalName>('customer', 'other', 'ghost', 'unknown', 'none'), validYields)
      .map(([principal, yields]): Spec => ({ method: 'post', path, principal, body: { json: { yields } } })),
    fc.tuple(badTransport, validYields).map(([transport, yields]): Spec => ({
      method: 'post',
      path,
      principal: 'crew',
      body: { raw: JSON.stringify({ yields }), ...transport },
    })),
  );
}

const adjustBodyDefect = fc.oneof(
  fc.constant({ delta: 0, reason: 'zero' }),
  fc.oneof(fc.integer({ min: 100_001 }), fc.integer({ max: -100_001 })).map((delta) => ({ delta, reason: 'big' })),
  fc
    .double({ min: -1000, max: 1000, noNaN: true })
    .filter((d) => !Number.isInteger(d))
    .map((delta) => ({ delta, reason: 'fraction' })),
  notNumber.map((delta) => ({ delta, reason: 'type' })),
  badText(200).map((reason) => ({ delta: 1, reason })),
  fc.constant({ delta: 1 }),
  fc.constant({ reason: 'no delta' }),
  fc.tuple(extraKey(['delta', 'reason']), json).map(([k, v]) => ({ delta: 1, reason: 'extra', [k]: v })),
  notObject,
);

const adjustSpec: fc.Arbitrary<Spec> = fc.oneof(
  fc.tuple(fc.constantFrom('TOM-HEIRLOOM', 'LET-BUTTER'), adjustBodyDefect).map(([sku, body]): Spec => ({
    method: 'post',
    path: `/admin/products/${sku}/adjust`,
    principal: 'admin',
    body: { json: body },
  })),
  fc
    .tuple(
      fc.constantFrom<PrincipalName>('customer', 'other', 'crew', 'unknown', 'none'),
      fc.integer({ min: -5, max: 5 }),
    )
    .filter(([, delta]) => delta !== 0)
    .map(([principal, delta]): Spec => ({
      method: 'post',
      path: '/admin/products/TOM-HEIRLOOM/adjust',
      principal,
      body: { json: { delta, reason: 'not an admin' } },
    })),
  fc
    .tuple(
      fc.oneof(fc.stringMatching(/^FUZZ-[A-Z0-9]{1,20}$/), badSku.map(encodeURIComponent)),
      fc.integer({ min: 1, max: 5 }),
    )
    .map(([sku, delta]): Spec => ({
      method: 'post',
      path: `/admin/products/${sku}/adjust`,
      principal: 'admin',
      body: { json: { delta, reason: 'no such sku' } },
    })),
  fc.tuple(badTransport, fc.integer({ min: 1, max: 5 })).map(([transport, delta]): Spec => ({
    method: 'post',
    path: '/admin/products/TOM-HEIRLOOM/adjust',
    principal: 'admin',
    body: { raw: JSON.stringify({ delta, reason: 'transport' }), ...transport },
  })),
);

/** Raw percent-escapes and traversal tokens that must reach the router intact. */
const weirdSegment = fc.oneof(
  fc.constantFrom(
    '%',
    '%zz',
    '%E0%A4%A',
    '%00',
    '%2F',
    '..',
    '.',
    '%2e%2e',
    '%C0%AF',
    '%FF%FE',
    '~',
    '%20',
    '@',
    ':id',
    '*',
  ),
  anyText.map(encodeURIComponent),
  fc.string({ unit: 'binary', maxLength: 300 }).map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, ''))),
);
const queryValue = fc.oneof(
  fc.constantFrom(
    '1',
    '20',
    '100',
    '0',
    '101',
    '-1',
    '1e2',
    'abc',
    '',
    'RUNNING',
    'COMPLETED',
    'cust-demo',
    'cust-other',
  ),
  fc.constantFrom('2026-01-01', '0000-01-01', '9999-12-31T23:59:59Z', '2026-02-30', '2026-01-01T00:00:00+14:00'),
  fc.constantFrom('eyJ4Ijox', 'WyIyMDI2LTAxLTAxVDAwOjAwOjAwLjAwMFoiLCJ4Il0', '!!', '%', '%00'),
  anyText.map(encodeURIComponent),
);
const queryString = fc
  .array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom(
          'limit',
          'cursor',
          'status',
          'customerId',
          'createdFrom',
          'createdTo',
          'status[]',
          'limit[x]',
          '__proto__',
        ),
        ascii({ minLength: 1, maxLength: 8 }).map(encodeURIComponent),
      ),
      queryValue,
    ),
    { maxLength: 6 },
  )
  .map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}` : ''));

function readsSpec(victim: string): fc.Arbitrary<Spec> {
  const id = fc.oneof(fc.constantFrom(victim, `${victim}x`, 'o-missing'), weirdSegment);
  const sku = fc.oneof(fc.constantFrom('TOM-HEIRLOOM', 'NOPE'), weirdSegment);
  const customer = fc.oneof(fc.constantFrom('cust-demo', 'cust-other', 'cust-nobody'), weirdSegment);
  const path = fc.oneof(
    fc.constant('/orders'),
    id.map((x) => `/orders/${x}`),
    id.map((x) => `/orders/${x}/events`),
    id.map((x) => `/orders/${x}/receipt`),
    customer.map((c) => `/customers/${c}/orders`),
    fc.constant('/products'),
    sku.map((s) => `/products/${s}/availability`),
    fc.constant('/harvest-tasks'),
    fc.constantFrom('/healthz', '/readyz', '/openapi.json', '/docs'),
  );
  const principal = fc.oneof(
    fc.constantFrom<PrincipalName>(...(Object.keys(PRINCIPALS) as PrincipalName[])),
    garbageAuth.map((a) => ({ Authorization: a })),
  );
  return fc
    .tuple(path, queryString, principal, fc.constantFrom<'get' | 'head'>('get', 'get', 'head'))
    .map(([p, q, principal, method]): Spec => ({ method, path: `${p}${q}`, principal }));
}

const availabilitySpec: fc.Arbitrary<Spec> = fc
  .tuple(
    fc.oneof(
      json,
      fc
        .array(fc.oneof(fc.constantFrom('TOM-HEIRLOOM', 'NOPE'), badSku, notString), { maxLength: 120 })
        .map((skus) => ({ skus })),
    ),
    fc.constantFrom<PrincipalName>('none', 'customer', 'crew', 'unknown'),
  )
  .map(([body, principal]): Spec => ({
    method: 'post',
    path: '/products/availability',
    principal,
    body: { json: body },
  }));

/** Objects that could look like a real command are left out: this generator is for garbage. */
const looksLikeCommand = (v: unknown): boolean =>
  v !== null &&
  typeof v === 'object' &&
  (['lines', 'reason', 'yields', 'delta'].some((k) => Object.prototype.hasOwnProperty.call(v, k)) ||
    Object.values(v).some(looksLikeCommand));

const randomSpec: fc.Arbitrary<Spec> = fc
  .record({
    method: fc.constantFrom<Spec['method']>('get', 'post', 'put', 'patch', 'delete', 'options', 'head'),
    segments: fc.array(
      fc.oneof(
        fc.constantFrom(
          'orders',
          'harvest-tasks',
          'products',
          'admin',
          'customers',
          'adjust',
          'cancel',
          'complete',
          'events',
          'receipt',
          'availability',
          'TOM-HEIRLOOM',
          'cust-demo',
          'hv-x',
        ),
        weirdSegment,
      ),
      { maxLength: 5 },
    ),
    query: queryString,
    principal: fc.oneof(
      fc.constantFrom<PrincipalName>(...(Object.keys(PRINCIPALS) as PrincipalName[])),
      garbageAuth.map((a) => ({ Authorization: a })),
    ),
    body: fc.option(
      json.filter((v) => !looksLikeCommand(v)),
      { nil: undefined },
    ),
    headers: fc.dictionary(
      fc.constantFrom(
        'Idempotency-Key',
        'Content-Type',
        'Accept',
        'X-Forwarded-For',
        'X-Api-Key',
        'Content-Language',
        'Range',
        'If-None-Match',
      ),
      ascii({ maxLength: 60 }),
      { maxKeys: 3 },
    ),
  })
  .map((r): Spec => ({
    method: r.method,
    path: `/${r.segments.join('/')}${r.query}`,
    principal: r.principal,
    headers: r.headers,
    body: r.body === undefined || r.method === 'get' || r.method === 'head' ? undefined : { json: r.body },
  }));

/** Raw texts a JSON parser (or what follows it) might choke on. */
function rawSpec(victim: string): fc.Arbitrary<Spec> {
  const text = fc.oneof(
    fc.constantFrom(
      '',
      '{',
      '{"lines":',
      'null',
      '"string"',
      '42',
      'true',
      '[]',
      '{"lines": 1e999999}',
      '{"lines": [{"sku": "LET-BUTTER", "quantity": 1e400}]}',
      '\ufeff{"reason": 1}',
      '{"__proto__": {"admin": true}, "reason": 5}',
      '{"constructor": {"prototype": {"isAdmin": true}}}',
      '{"reason": "a", "reason": 7}',
      '{"yields": [], "yields": {}}',
      '{"delta": 1, "delta": 0, "reason": "dup"}',
      `${'['.repeat(20_000)}${']'.repeat(20_000)}`,
      `{"a":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`,
      '{"skus": ["TOM-HEIRLOOM", "TOM-HEIRLOOM"]}',
    ),
    fc.string({ unit: 'binary', maxLength: 200 }),
    ascii({ maxLength: 200 }),
  );
  const path = fc.constantFrom(
    '/orders',
    `/orders/${victim}/cancel`,
    `/harvest-tasks/hv-${victim}/complete`,
    '/admin/products/TOM-HEIRLOOM/adjust',
    '/products/availability',
  );
  const principal = fc.constantFrom<PrincipalName>('customer', 'admin', 'crew', 'none');
  return fc
    .tuple(
      text,
      path,
      principal,
      fc.constantFrom('application/json', 'application/problem+json', 'application/merge-patch+json'),
    )
    .filter(([t]) => {
      // A text that happens to be a valid command is not garbage.
      try {
        return (
          !looksLikeCommand(JSON.parse(t)) || /1e999999|1e400|"reason": 5|"reason": 7|"delta": 0|\[\]|\{\}/.test(t)
        );
      } catch {
        return true;
      }
    })
    .map(([raw, p, principal, contentType]): Spec => ({
      method: 'post',
      path: p,
      principal,
      headers: p === '/orders' ? { 'Idempotency-Key': goodKey() } : {},
      body: { raw, contentType },
    }));
}

// ---- The property ------------------------------------------------------------------------------

let api: ApiHarness;
let server: Awaited<ReturnType<typeof listen>>;
let victim: string;
beforeAll(async () => {
  api = await createApiHarness();
  server = await listen(api.app);
  victim = await submitAndAwaitHarvest(api.app, {
    lines: [
      { sku: 'TOM-HEIRLOOM', quantity: 2 },
      { sku: 'LET-BUTTER', quantity: 1 },
    ],
    shippingAddress: address(),
  });
}, 120_000);
afterAll(async () => {
  await server?.close();
  await api?.teardown();
});

async function snapshot() {
  const counts: Record<string, number> = {};
  for (const table of TABLES) {
    const [row] = await api.h.db.query<{ n: string }>(`select count(*) as n from ${table}`);
    counts[table] = Number(row!.n);
  }
  const products = await api.h.db.query('select sku, available, reserved, updated_at from products order by sku');
  const orders = await api.h.db.query('select id, status, step, updated_at from orders order by id');
  const tasks = await api.h.db.query('select id, status, yields from harvest_tasks order by id');
  const service = api.h.env.client.workflowService;
  const namespace = api.h.env.namespace ?? 'default';
  const open = await service.listOpenWorkflowExecutions({ namespace, maximumPageSize: 1000 });
  const closed = await service.listClosedWorkflowExecutions({ namespace, maximumPageSize: 1000 });
  const workflows = [...open.executions, ...closed.executions].map((e) => e.execution?.workflowId).sort();
  // Any signal or accepted Update (a cancel, a harvest report) would have added to the victim's history. Workflow
  // tasks do not count: the time-skipping server persists the one that ran a validator even when it refused.
  const events = (await api.h.env.client.workflow.getHandle(orderWorkflowId(victim)).fetchHistory()).events ?? [];
  const history = events
    .filter((e) => !e.workflowTaskScheduledEventAttributes && !e.workflowTaskStartedEventAttributes)
    .filter((e) => !e.workflowTaskCompletedEventAttributes)
    .map((e) => e.eventType);
  return { counts, products, orders, tasks, workflows, history };
}

async function send(spec: Spec) {
  let req = request(server.url)[spec.method](spec.path);
  const principal = typeof spec.principal === 'string' ? PRINCIPALS[spec.principal] : spec.principal;
  req = req.set(principal as Record<string, string>);
  for (const [k, v] of Object.entries(spec.headers ?? {})) req = req.set(k, v);
  if (spec.body && 'json' in spec.body) {
    req = req.set('Content-Type', 'application/json').send(JSON.stringify(spec.body.json) ?? 'null');
  } else if (spec.body) {
    if (spec.body.contentType) req = req.set('Content-Type', spec.body.contentType);
    if (spec.body.encoding) req = req.set('Content-Encoding', spec.body.encoding);
    req = req.send(spec.body.raw);
  }
  return req.ok(() => true);
}

describe('fuzzing the API with malformed requests', () => {
  let before: Awaited<ReturnType<typeof snapshot>>;
  let startSpy: jest.SpyInstance;
  let plainStartSpy: jest.SpyInstance;
  const wouldBeOrders = new Set<string>();
  const statuses = new Map<number, number>();
  let sent = 0;

  beforeAll(async () => {
    before = await snapshot();
    expect(before.workflows).toContain(orderWorkflowId(victim));
    // The API starts orders by update-with-start; nothing should start them any other way either.
    startSpy = jest.spyOn(api.h.env.client.workflow, 'executeUpdateWithStart');
    plainStartSpy = jest.spyOn(api.h.env.client.workflow, 'start');
  });

  async function check(spec: Spec, allowed?: number[]): Promise<void> {
    const res = await send(spec);
    sent++;
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    if (spec.wouldBeOrder) wouldBeOrders.add(spec.wouldBeOrder);
    const where = `${spec.method.toUpperCase()} ${spec.path.slice(0, 200)} -> ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`;
    if (res.status >= 500) throw new Error(`5xx: ${where}`);
    if (allowed && !allowed.includes(res.status)) throw new Error(`unexpected status: ${where}`);
    if (res.status >= 400 && spec.method !== 'head') {
      const problem = problemSchema.safeParse(res.body);
      if (!/application\/problem\+json/.test(res.headers['content-type'] ?? '') || !problem.success) {
        throw new Error(`not a problem document: ${where}`);
      }
      if (problem.data.status !== res.status || !problem.data.type.startsWith('/problems/')) {
        throw new Error(`problem status/type does not match the response: ${where}`);
      }
    }
    if (startSpy.mock.calls.length + plainStartSpy.mock.calls.length > 0) {
      throw new Error(`a workflow start was attempted: ${where}`);
    }
  }

  it('when thousands of defective order submissions arrive, then each is refused with a 4xx problem', async () => {
    await fc.assert(
      fc.asyncProperty(ordersSpec, (spec) => check(spec, [400, 401, 403, 413, 415, 422])),
      { numRuns: RUNS.orders },
    );
  }, 60_000);

  it('when bad cancels arrive for a waiting order (bad bodies, others, the crew, no key), then each is refused', async () => {
    await fc.assert(
      fc.asyncProperty(cancelSpec(victim), (spec) => check(spec, [400, 401, 403, 404, 415])),
      {
        numRuns: RUNS.cancel,
      },
    );
  }, 60_000);

  it('when bad harvest reports arrive (wrong SKUs, too much, duplicates, customers), then each is refused', async () => {
    await fc.assert(
      // 422: the workflow itself refuses yields it does not have or more than ordered (a rejected Update leaves
      // no trace in its history).
      fc.asyncProperty(harvestSpec(victim), (spec) => check(spec, [400, 401, 403, 415, 422])),
      {
        numRuns: RUNS.harvest,
      },
    );
  }, 60_000);

  it('when bad stock adjustments arrive (bad deltas and reasons, non-admins, unknown SKUs), then each is refused', async () => {
    await fc.assert(
      fc.asyncProperty(adjustSpec, (spec) => check(spec, [400, 401, 403, 404, 415])),
      {
        numRuns: RUNS.adjust,
      },
    );
  }, 60_000);

  it('when reads come with odd IDs, query strings, repeated parameters and keys, then none is a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(readsSpec(victim), (spec) => check(spec)),
      { numRuns: RUNS.reads },
    );
  }, 60_000);

  it('when availability is asked with arbitrary JSON, then none is a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(availabilitySpec, (spec) => check(spec, [200, 400, 401])),
      {
        numRuns: RUNS.availability,
      },
    );
  }, 60_000);

  it('when random methods hit random paths with random headers and bodies, then none is a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(randomSpec, (spec) => check(spec)),
      { numRuns: RUNS.random },
    );
  }, 60_000);

  it('when raw texts that are not JSON objects (or are traps) are posted as JSON, then each is refused', async () => {
    await fc.assert(
      fc.asyncProperty(rawSpec(victim), (spec) => check(spec, [400, 401, 403, 413, 415])),
      {
        numRuns: RUNS.raw,
      },
    );
  }, 60_000);

  it('when the fuzzing is over, then no workflow was started or signalled and no row changed', async () => {
    expect(sent).toBeGreaterThanOrEqual(2000);
    // A workflow started by mistake would have recorded its order by now.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(startSpy).not.toHaveBeenCalled();
    expect(plainStartSpy).not.toHaveBeenCalled();
    const after = await snapshot();
    expect(after).toEqual(before);
    expect(wouldBeOrders.size).toBeGreaterThan(100);
    for (const orderId of wouldBeOrders) {
      await expect(api.h.env.client.workflow.getHandle(orderWorkflowId(orderId)).describe()).rejects.toBeInstanceOf(
        WorkflowNotFoundError,
      );
    }
    const order = await request(api.app).get(`/orders/${victim}`).set(PRINCIPALS.customer);
    expect(order.body).toMatchObject({ status: 'AWAITING_HARVEST', chargedCents: null });
    // For the record: what the API answered.
    expect([...statuses.keys()].every((s) => s < 500)).toBe(true);
  }, 120_000);
});

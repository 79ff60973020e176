import http from 'node:http';
import fc from 'fast-check';
import { invalidValue, invalidVariant, isValid, validValue, whyInvalid, type Schema } from '../support/json-schema';
import { createApiHarness, listen, type ApiHarness } from './helpers';

/**
 * Property: the published document is the contract. Every request is generated from the JSON
 * Schemas of /openapi.json as the running app serves it (test/support/json-schema.ts knows JSON
 * Schema, not our zod schemas), for every operation, and sent over real HTTP to the real API
 * (PostgreSQL, the Temporal test server, a worker):
 *
 * - a request the document calls valid is never answered 400 nor 5xx, its status is one the
 *   document lists for the operation, and a 2xx body and its documented headers match the document;
 * - a request with one defect the document refuses (a bad parameter, header or body field, a
 *   missing or unknown property, a repeated or unknown query parameter) is a 4xx problem, never 5xx;
 * - every link of a 2xx response is followed: its runtime expression must give a valid parameter
 *   of the linked operation, which is then called like any valid request.
 *
 * Keys are real and carry a role the operation allows, so authorization never hides validation.
 */

/**
 * Runs per operation, for valid and for invalid requests (about 1 900 requests in all, half a minute
 * on 2 cores). More valid orders, so that some are accepted and their links lead to real orders.
 */
const RUNS = { valid: 50, invalid: 50, validByOperation: { createOrder: 150 } as Record<string, number> };

const KEYS = {
  customer: { Authorization: 'Bearer demo-customer-key' },
  crew: { Authorization: 'Bearer demo-crew-key' },
  admin: { 'X-Api-Key': 'demo-admin-key' },
} as const;
type Role = keyof typeof KEYS;

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  schema: Schema;
}
interface Response {
  content?: Record<string, { schema: Schema }>;
  headers?: Record<string, { schema: Schema }>;
  links?: Record<string, { operationId: string; parameters: Record<string, string> }>;
}
interface Operation {
  operationId: string;
  parameters: Parameter[];
  requestBody?: { content: { 'application/json': { schema: Schema } } };
  responses: Record<string, Response>;
  'x-access': 'public' | 'optional' | Role[];
}
interface Endpoint {
  method: string;
  path: string;
  op: Operation;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
}

/** One HTTP request as the test builds it; `body` undefined means none. */
interface Call {
  endpoint: Endpoint;
  pathParams: Record<string, string>;
  query: [string, string][];
  headers: Record<string, string>;
  body?: unknown;
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json?: unknown;
}

// ---- Building requests from the document -------------------------------------------------------

const noLoneSurrogate = (s: string) =>
  !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
/** What Node can send as a header value, as HTTP reads it (no surrounding white space). */
const headerSafe = (s: string) => /^(?:[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?)?$/.test(s);

function keysFor(op: Operation): fc.Arbitrary<Record<string, string>> {
  const access = op['x-access'];
  if (access === 'public') return fc.constant({});
  if (access === 'optional') return fc.constantFrom<Record<string, string>>({}, ...Object.values(KEYS));
  return fc.constantFrom(...access.map((role) => KEYS[role]));
}

function parameterValues(params: Parameter[], fixed: Record<string, string> = {}) {
  const model: Record<string, fc.Arbitrary<string>> = {};
  for (const p of params) {
    model[p.name] = p.name in fixed ? fc.constant(fixed[p.name]!) : (validValue(p.schema) as fc.Arbitrary<string>);
  }
  const required = params.filter((p) => p.required || p.name in fixed).map((p) => p.name);
  return fc.record(model, { requiredKeys: required }) as fc.Arbitrary<Record<string, string>>;
}

/** A request the document calls valid; `fixed` pins parameters (a link's values). */
function validCall(endpoint: Endpoint, fixed: Record<string, string> = {}): fc.Arbitrary<Call> {
  const { op } = endpoint;
  const where = (w: Parameter['in']) => op.parameters.filter((p) => p.in === w);
  const bodySchema = op.requestBody?.content['application/json'].schema;
  return fc
    .record({
      path: parameterValues(where('path'), fixed),
      query: parameterValues(where('query'), fixed),
      header: parameterValues(where('header'), fixed),
      keys: keysFor(op),
      accept: fc.constantFrom(...acceptable(op)),
      body: bodySchema ? validValue(bodySchema) : fc.constant(undefined),
    })
    .map((r) => ({
      endpoint,
      pathParams: r.path,
      query: Object.entries(r.query),
      headers: { ...r.keys, ...r.header, ...(r.accept ? { Accept: r.accept } : {}) },
      body: r.body,
    }));
}

/** The content types a 2xx answer is documented in; undefined (no Accept) for the default. */
function acceptable(op: Operation): (string | undefined)[] {
  const types = Object.entries(op.responses)
    .filter(([status]) => /^2/.test(status))
    .flatMap(([, r]) => Object.keys(r.content ?? {}));
  return types.length > 1 ? [undefined, ...types] : [undefined];
}

/** One defect the document refuses, applied to a valid request. */
function defects(call: Call): fc.Arbitrary<Call>[] {
  const { op } = call.endpoint;
  const out: fc.Arbitrary<Call>[] = [];
  const urlSafe = (v: unknown): v is string => typeof v === 'string' && noLoneSurrogate(v);
  for (const p of op.parameters) {
    // An empty path segment would name another path (/orders/ is GET /orders), not a bad value of this one.
    const bad = invalidValue(p.schema, { strings: true }).filter(
      (v): v is string => urlSafe(v) && (p.in !== 'path' || v !== ''),
    );
    if (p.in === 'path') out.push(bad.map((v) => ({ ...call, pathParams: { ...call.pathParams, [p.name]: v } })));
    if (p.in === 'header') {
      out.push(bad.filter(headerSafe).map((v) => ({ ...call, headers: { ...call.headers, [p.name]: v } })));
    }
    if (p.in === 'query') {
      const others = call.query.filter(([k]) => k !== p.name);
      out.push(bad.map((v) => ({ ...call, query: [...others, [p.name, v] as [string, string]] })));
      // "Give it at most once": the same valid value twice.
      out.push(
        (validValue(p.schema) as fc.Arbitrary<string>).map((v) => ({
          ...call,
          query: [...others, [p.name, v], [p.name, v]] as [string, string][],
        })),
      );
    }
  }
  if (op.responses['400']) {
    const names = new Set(op.parameters.map((p) => p.name));
    const unknown = fc.stringMatching(/^[a-z][a-zA-Z]{0,9}$/).filter((k) => !names.has(k));
    out.push(
      fc
        .tuple(unknown, fc.stringMatching(/^[a-z0-9]{1,8}$/))
        .map(([k, v]) => ({ ...call, query: [...call.query, [k, v]] })),
    );
  }
  const bodySchema = op.requestBody?.content['application/json'].schema;
  if (bodySchema) {
    out.push(invalidVariant(bodySchema, call.body).map((body) => ({ ...call, body })));
    out.push(fc.constant({ ...call, body: undefined }));
  }
  return out;
}

function invalidCall(endpoint: Endpoint): fc.Arbitrary<Call> {
  return validCall(endpoint).chain((call) => fc.oneof(...defects(call)));
}

// ---- Sending -----------------------------------------------------------------------------------

let api: ApiHarness;
let server: Awaited<ReturnType<typeof listen>>;
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

function target(call: Call): string {
  const path = call.endpoint.path.replace(/\{([^}]+)\}/g, (_m, name: string) =>
    encodeURIComponent(call.pathParams[name] ?? ''),
  );
  const query = call.query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return query ? `${path}?${query}` : path;
}

/** node:http, not fetch: a URL parser would rewrite paths such as /customers/../orders before sending. */
function send(call: Call): Promise<Answer> {
  const { port } = new URL(server.url);
  const payload = call.body === undefined ? undefined : Buffer.from(JSON.stringify(call.body));
  const headers: Record<string, string | number> = { ...call.headers };
  if (payload) Object.assign(headers, { 'Content-Type': 'application/json', 'Content-Length': payload.length });
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: call.endpoint.method.toUpperCase(), path: target(call), headers, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const json = /json/.test(res.headers['content-type'] ?? '') ? (JSON.parse(text) as unknown) : undefined;
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

// ---- Checking ----------------------------------------------------------------------------------

let doc: Document;
const endpoints: Endpoint[] = [];
const byOperationId = new Map<string, Endpoint>();
const tally = new Map<string, Map<string, number>>();

function describeCall(call: Call, answer: Answer): string {
  const body = call.body === undefined ? '' : ` ${JSON.stringify(call.body).slice(0, 300)}`;
  return `${call.endpoint.method.toUpperCase()} ${target(call).slice(0, 300)}${body} -> ${answer.status} ${answer.text.slice(0, 400)}`;
}

function count(call: Call, kind: string, status: number): void {
  const key = `${call.endpoint.method.toUpperCase()} ${call.endpoint.path}`;
  const counts = tally.get(key) ?? new Map<string, number>();
  counts.set(`${kind} ${status}`, (counts.get(`${kind} ${status}`) ?? 0) + 1);
  tally.set(key, counts);
}

function expectProblem(call: Call, answer: Answer): void {
  const where = describeCall(call, answer);
  if (!/^application\/problem\+json/.test(answer.headers['content-type'] ?? ''))
    throw new Error(`not a problem: ${where}`);
  if ((answer.json as { status?: number }).status !== answer.status)
    throw new Error(`problem status differs: ${where}`);
}

function checkValidAnswer(call: Call, answer: Answer): void {
  const where = describeCall(call, answer);
  const { op } = call.endpoint;
  if (answer.status >= 500) throw new Error(`5xx for a document-valid request: ${where}`);
  if (answer.status === 400) throw new Error(`400 for a document-valid request: ${where}`);
  const documented = op.responses[String(answer.status)];
  if (!documented) throw new Error(`status ${answer.status} is not documented for ${op.operationId}: ${where}`);
  if (answer.status >= 400) return expectProblem(call, answer);
  const type = (answer.headers['content-type'] ?? '').split(';')[0]!;
  const content = documented.content?.[type];
  if (documented.content && !content) throw new Error(`content type ${type} is not documented: ${where}`);
  if (content && answer.json !== undefined) {
    const why = whyInvalid(content.schema, answer.json, doc);
    if (why) throw new Error(`the body does not match the document (${why}): ${where}`);
  }
  for (const [name, header] of Object.entries(documented.headers ?? {})) {
    const value = answer.headers[name.toLowerCase()];
    if (typeof value !== 'string' || !isValid(header.schema, value, doc)) {
      throw new Error(`header ${name} is missing or does not match the document: ${where}`);
    }
  }
}

/** The value a `$response.body#/pointer` expression picks from a body, if any. */
function evaluate(expression: string, body: unknown): unknown {
  const pointer = /^\$response\.body#(\/.*)$/.exec(expression)?.[1];
  if (!pointer) throw new Error(`unsupported runtime expression ${expression}`);
  let at: unknown = body;
  for (const token of pointer.split('/').slice(1)) at = (at as Record<string, unknown> | undefined)?.[token];
  return at;
}

async function checkValid(call: Call, g: fc.GeneratorValue, depth = 0): Promise<void> {
  const answer = await send(call);
  count(call, depth === 0 ? 'valid' : 'linked', answer.status);
  checkValidAnswer(call, answer);
  if (depth > 0 || answer.status >= 300) return;
  const links = Object.entries(call.endpoint.op.responses[String(answer.status)]?.links ?? {});
  // Some of the links, not all: following cancelOrder every time would leave no order to harvest.
  const followed = links.length ? g(() => fc.subarray(links, { minLength: 1 })) : [];
  for (const [name, link] of followed) {
    const next = byOperationId.get(link.operationId)!;
    const values = Object.entries(link.parameters).map(([param, expression]) => [
      param,
      evaluate(expression, answer.json),
    ]);
    // A list can be empty: nothing to follow then.
    if (values.some(([, v]) => v === undefined)) continue;
    for (const [param, value] of values) {
      const schema = next.op.parameters.find((p) => p.name === param)!.schema;
      if (!isValid(schema, value))
        throw new Error(`link ${name} gives ${String(param)}=${String(value)}, invalid there`);
    }
    await checkValid(
      g(() => validCall(next, Object.fromEntries(values) as Record<string, string>)),
      g,
      depth + 1,
    );
  }
}

async function checkInvalid(call: Call): Promise<void> {
  const answer = await send(call);
  count(call, `invalid ${String((answer.json as { type?: string } | undefined)?.type)}`, answer.status);
  const where = describeCall(call, answer);
  if (answer.status >= 500) throw new Error(`5xx for a document-invalid request: ${where}`);
  // Refused by validation (400), or no longer naming the operation's path at all (404 route-not-found);
  // anything else means the request got past validation.
  const type = (answer.json as { type?: string } | undefined)?.type;
  if (answer.status !== 400 && !(answer.status === 404 && type === '/problems/route-not-found')) {
    throw new Error(`a document-invalid request was not refused as invalid: ${where}`);
  }
  expectProblem(call, answer);
}

// ---- The property ------------------------------------------------------------------------------

beforeAll(async () => {
  api = await createApiHarness();
  server = await listen(api.app);
  const res = await fetch(`${server.url}/openapi.json`);
  doc = (await res.json()) as Document;
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const endpoint = { method, path, op };
      endpoints.push(endpoint);
      byOperationId.set(op.operationId, endpoint);
    }
  }
}, 120_000);

afterAll(async () => {
  // DEBUG_CONTRACT=1 prints what the API answered, per operation.
  if (process.env.DEBUG_CONTRACT) {
    const total = [...tally.values()].reduce((n, m) => n + [...m.values()].reduce((a, b) => a + b, 0), 0);
    console.log(`${total} requests`, JSON.stringify([...tally].map(([k, m]) => [k, Object.fromEntries(m)])));
  }
  agent.destroy();
  await server?.close();
  await api?.teardown();
});

describe('the served OpenAPI document is the contract', () => {
  it('when the document is fetched, then it has operations to test, each with a key that may call it', () => {
    expect(endpoints.length).toBeGreaterThanOrEqual(19);
    for (const { op } of endpoints) expect(op['x-access']).toBeDefined();
  });

  it('when every operation gets document-valid requests (links followed), then none is a 400 or a 5xx and each answer is documented', async () => {
    for (const endpoint of endpoints) {
      await fc.assert(
        fc.asyncProperty(validCall(endpoint), fc.gen(), (call, g) => checkValid(call, g)),
        { numRuns: RUNS.validByOperation[endpoint.op.operationId] ?? RUNS.valid },
      );
    }
    const statuses = [...tally.values()].flatMap((m) => [...m.keys()]);
    // Not vacuous: orders were accepted and links led to real orders.
    expect(statuses).toEqual(expect.arrayContaining(['valid 202', 'linked 200']));
  }, 120_000);

  it('when every operation gets requests with one defect the document refuses, then each is refused as invalid, never a 5xx', async () => {
    for (const endpoint of endpoints.filter(
      (endpoint) => defects({ endpoint, pathParams: {}, query: [], headers: {} }).length > 0,
    )) {
      await fc.assert(fc.asyncProperty(invalidCall(endpoint), checkInvalid), { numRuns: RUNS.invalid });
    }
  }, 120_000);
});

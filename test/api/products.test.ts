import request from 'supertest';
import { createApp } from '../../src/api/app';
import { parseApiKeys } from '../../src/api/auth';
import { healthSchema, readinessSchema } from '../../src/api/health/schemas';
import {
  adjustedProductSchema,
  availabilityListSchema,
  availabilitySchema,
  productListSchema,
} from '../../src/api/products/schemas';
import { createDb } from '../../src/db/client';
import { createLogger } from '../../src/lib/logger';
import { API_KEYS, createApiHarness, errorPaths, KEYS, type ApiHarness } from './helpers';

let api: ApiHarness;
beforeAll(async () => {
  api = await createApiHarness({ worker: false });
}, 120_000);
afterAll(() => api?.teardown());

const app = () => api.app;
const DAY_MS = 24 * 60 * 60 * 1000;

async function stockOf(sku: string) {
  const [row] = await api.h.db.query<{ available: number; reserved: number }>(
    'select available, reserved from products where sku = $1',
    [sku],
  );
  return row;
}
async function adjustmentsOf(sku: string) {
  return api.h.db.query<{ id: string; delta: number; reason: string; actor: string }>(
    'select id, delta, reason, actor from stock_adjustments where sku = $1 order by created_at',
    [sku],
  );
}

describe('GET /products', () => {
  it('when anyone asks, with or without a key, then the catalogue comes back with stock', async () => {
    for (const key of [{}, KEYS.customer, KEYS.crew]) {
      const res = await request(app()).get('/products').set(key);
      expect(res.status).toBe(200);
      const { data } = productListSchema.parse(res.body);
      expect(data.map((p) => p.sku)).toEqual(['KAL-LACINATO', 'LET-BUTTER', 'POT-YUKON', 'STR-ALBION', 'TOM-HEIRLOOM']);
    }
  });

  it('when the key is unknown, then 401; when the query has unknown parameters, then 400', async () => {
    expect((await request(app()).get('/products').set(KEYS.unknown)).status).toBe(401);
    const res = await request(app()).get('/products?page=2');
    expect(res.status).toBe(400);
    expect(errorPaths(res.body)).toEqual(['page']);
  });
});

describe('GET /products/:sku/availability', () => {
  it('when the SKU exists, then available, reserved, unit, lead days and the earliest delivery date', async () => {
    const res = await request(app()).get('/products/TOM-HEIRLOOM/availability');
    expect(res.status).toBe(200);
    const body = availabilitySchema.parse(res.body);
    const row = await stockOf('TOM-HEIRLOOM');
    expect(body).toMatchObject({ sku: 'TOM-HEIRLOOM', unit: 'kg', harvestLeadDays: 2, ...row });
    // Harvest lead (2 days) plus one day for the carrier.
    const expected = [0, 1].map((slack) => new Date(Date.now() - slack * 1000 + 3 * DAY_MS).toISOString().slice(0, 10));
    expect(expected).toContain(body.earliestDelivery);
  });

  it('when nothing is available, then there is no earliest delivery date', async () => {
    const { available } = (await stockOf('POT-YUKON'))!;
    await request(app())
      .post('/admin/products/POT-YUKON/adjust')
      .set(KEYS.admin)
      .send({ delta: -available, reason: 'frost' })
      .expect(200);
    const res = await request(app()).get('/products/POT-YUKON/availability');
    expect(res.body).toEqual({ sku: 'POT-YUKON', available: 0, reserved: 0, unit: 'kg', harvestLeadDays: 5 });
    await request(app())
      .post('/admin/products/POT-YUKON/adjust')
      .set(KEYS.admin)
      .send({ delta: available, reason: 'thawed' })
      .expect(200);
  });

  it('when the SKU is unknown, then 404; malformed, then 400', async () => {
    const missing = await request(app()).get('/products/NOPE/availability');
    expect(missing.status).toBe(404);
    expect(missing.body.type).toBe('/problems/not-found');
    const odd = await request(app()).get('/products/%20bad%F0%9F%8D%85/availability');
    expect(odd.status).toBe(400);
    expect(errorPaths(odd.body)).toEqual(['sku']);
  });
});

describe('POST /products/availability', () => {
  it('when several SKUs are asked, then the known ones come back in that order and the rest are listed as unknown', async () => {
    const res = await request(app())
      .post('/products/availability')
      .send({ skus: ['TOM-HEIRLOOM', 'NOPE', 'LET-BUTTER'] });
    expect(res.status).toBe(200);
    const body = availabilityListSchema.parse(res.body);
    expect(body.data.map((a) => a.sku)).toEqual(['TOM-HEIRLOOM', 'LET-BUTTER']);
    expect(body.unknown).toEqual(['NOPE']);
  });

  it.each([
    ['no SKUs', { skus: [] }, 'skus'],
    ['101 SKUs', { skus: Array.from({ length: 101 }, (_, i) => `S${i}`) }, 'skus'],
    ['a SKU twice', { skus: ['TOM-HEIRLOOM', 'TOM-HEIRLOOM'] }, 'skus'],
    ['a number for a SKU', { skus: ['TOM-HEIRLOOM', 7] }, 'skus.1'],
    ['a string instead of a list', { skus: 'TOM-HEIRLOOM' }, 'skus'],
    ['an extra field', { skus: ['TOM-HEIRLOOM'], all: true }, 'all'],
    ['an array body', [{ skus: ['TOM-HEIRLOOM'] }], '(root)'],
  ])('when the body has %s, then 400 names %s', async (_name, body, field) => {
    const res = await request(app()).post('/products/availability').send(body);
    expect(res.status).toBe(400);
    expect(errorPaths(res.body)).toContain(field);
  });

  it('when the body is form-encoded, then 415', async () => {
    const res = await request(app()).post('/products/availability').type('form').send('skus=TOM-HEIRLOOM');
    expect(res.status).toBe(415);
  });
});

describe('POST /admin/products/:sku/adjust', () => {
  it('when an admin adds stock, then available grows and a stock_adjustments row names the admin and the reason', async () => {
    const before = (await stockOf('LET-BUTTER'))!;
    const res = await request(app())
      .post('/admin/products/LET-BUTTER/adjust')
      .set(KEYS.admin)
      .send({ delta: 25, reason: 'second greenhouse' });
    expect(res.status).toBe(200);
    const body = adjustedProductSchema.parse(res.body);
    expect(body).toMatchObject({ sku: 'LET-BUTTER', available: before.available + 25, reserved: before.reserved });
    expect(body.adjustment).toMatchObject({ delta: 25, reason: 'second greenhouse', actor: 'admin' });
    expect(await stockOf('LET-BUTTER')).toEqual({ ...before, available: before.available + 25 });
    expect((await adjustmentsOf('LET-BUTTER')).at(-1)).toEqual({
      id: body.adjustment.id,
      delta: 25,
      reason: 'second greenhouse',
      actor: 'admin',
    });
    expect(body.adjustment.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('when an admin removes more than is available, then 409 insufficient-stock and nothing changes', async () => {
    const before = (await stockOf('STR-ALBION'))!;
    const rows = (await adjustmentsOf('STR-ALBION')).length;
    const res = await request(app())
      .post('/admin/products/STR-ALBION/adjust')
      .set(KEYS.admin)
      .send({ delta: -(before.available + 1), reason: 'hail' });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ type: '/problems/insufficient-stock', available: before.available });
    expect(await stockOf('STR-ALBION')).toEqual(before);
    expect(await adjustmentsOf('STR-ALBION')).toHaveLength(rows);
    // Exactly all of it is fine.
    const all = await request(app())
      .post('/admin/products/STR-ALBION/adjust')
      .set(KEYS.admin)
      .send({ delta: -before.available, reason: 'hail' });
    expect(all.status).toBe(200);
    expect(all.body.available).toBe(0);
    await request(app())
      .post('/admin/products/STR-ALBION/adjust')
      .set(KEYS.admin)
      .send({ delta: before.available, reason: 'replanted' })
      .expect(200);
  });

  it('when stock would overflow a 32-bit integer, then 409 stock-limit rather than a database error', async () => {
    await api.h.db.query(`update products set available = 2147483000 where sku = 'KAL-LACINATO'`);
    const res = await request(app())
      .post('/admin/products/KAL-LACINATO/adjust')
      .set(KEYS.admin)
      .send({ delta: 100_000, reason: 'bumper crop' });
    expect(res.status).toBe(409);
    expect(res.body.type).toBe('/problems/stock-limit');
    await api.h.db.query(`update products set available = 250 where sku = 'KAL-LACINATO'`);
  });

  it('when the SKU is unknown, then 404 and no adjustment is recorded', async () => {
    const res = await request(app())
      .post('/admin/products/NOPE/adjust')
      .set(KEYS.admin)
      .send({ delta: 1, reason: 'x' });
    expect(res.status).toBe(404);
    expect(await adjustmentsOf('NOPE')).toEqual([]);
  });

  it('when a customer or crew key adjusts, then 403; without a key, then 401; nothing changes', async () => {
    const before = await stockOf('TOM-HEIRLOOM');
    const body = { delta: 5, reason: 'sneaky' };
    expect(
      (await request(app()).post('/admin/products/TOM-HEIRLOOM/adjust').set(KEYS.customer).send(body)).status,
    ).toBe(403);
    expect((await request(app()).post('/admin/products/TOM-HEIRLOOM/adjust').set(KEYS.crew).send(body)).status).toBe(
      403,
    );
    expect((await request(app()).post('/admin/products/TOM-HEIRLOOM/adjust').send(body)).status).toBe(401);
    expect(await stockOf('TOM-HEIRLOOM')).toEqual(before);
    expect(await adjustmentsOf('TOM-HEIRLOOM')).toEqual([]);
  });

  it.each([
    ['a zero delta', { delta: 0, reason: 'x' }, ['delta']],
    ['a fractional delta', { delta: 1.5, reason: 'x' }, ['delta']],
    ['a delta over 100000', { delta: 100_001, reason: 'x' }, ['delta']],
    ['a delta under -100000', { delta: -100_001, reason: 'x' }, ['delta']],
    ['a string delta', { delta: '5', reason: 'x' }, ['delta']],
    ['no reason', { delta: 5 }, ['reason']],
    ['a blank reason', { delta: 5, reason: '  ' }, ['reason']],
    ['a 201-character reason', { delta: 5, reason: 'x'.repeat(201) }, ['reason']],
    ['a client-supplied actor', { delta: 5, reason: 'x', actor: 'someone' }, ['actor']],
    ['everything wrong', { delta: 0, reason: '', available: 5 }, ['available', 'delta', 'reason']],
  ])('when the body has %s, then 400 names %j and nothing changes', async (_name, body, fields) => {
    const before = await stockOf('TOM-HEIRLOOM');
    const res = await request(app()).post('/admin/products/TOM-HEIRLOOM/adjust').set(KEYS.admin).send(body);
    expect(res.status).toBe(400);
    expect([...new Set(errorPaths(res.body))].sort()).toEqual(fields);
    expect(await stockOf('TOM-HEIRLOOM')).toEqual(before);
  });
});

describe('health', () => {
  it('when asked, then /healthz is ok and /readyz checks PostgreSQL and Temporal', async () => {
    const health = await request(app()).get('/healthz').set(KEYS.unknown);
    expect(health.status).toBe(200);
    expect(healthSchema.parse(health.body)).toEqual({ status: 'ok' });
    const ready = await request(app()).get('/readyz');
    expect(ready.status).toBe(200);
    expect(readinessSchema.parse(ready.body)).toEqual({ status: 'ready', checks: { database: 'ok', temporal: 'ok' } });
  });

  it('when scraped without a key, then /metrics counts requests by route pattern (not raw path) and orders by status', async () => {
    await request(app()).get('/products/TOM-HEIRLOOM/availability').expect(200);
    await request(app()).get('/products/NOPE/availability').expect(404);
    await request(app()).post('/products/availability').set('Content-Type', 'application/json').send('{').expect(400);
    const res = await request(app()).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toMatch(
      /htd_http_requests_total\{[^}]*route="\/products\/:sku\/availability"[^}]*status="200"[^}]*\} [1-9]/,
    );
    expect(res.text).toMatch(
      /htd_http_requests_total\{[^}]*route="\/products\/:sku\/availability"[^}]*status="404"[^}]*\} [1-9]/,
    );
    // A body the JSON parser refuses is still counted.
    expect(res.text).toMatch(/htd_http_requests_total\{[^}]*method="POST"[^}]*status="400"[^}]*\} [1-9]/);
    expect(res.text).not.toContain('TOM-HEIRLOOM');
    expect(res.text).toContain('htd_orders_parked');
  });

  it('when PostgreSQL is unreachable, then /readyz is 503 naming the failed check', async () => {
    const db = createDb('postgresql://postgres:postgres@127.0.0.1:1/nothing', 1);
    try {
      const broken = createApp({
        db,
        temporal: api.h.env.client,
        taskQueue: 'unused',
        apiKeys: parseApiKeys(API_KEYS),
        log: createLogger('api-test', 'silent'),
      });
      const res = await request(broken).get('/readyz');
      expect(res.status).toBe(503);
      const body = readinessSchema.parse(res.body);
      expect(body.status).toBe('not-ready');
      expect(body.checks.temporal).toBe('ok');
      expect(body.checks.database).not.toBe('ok');
    } finally {
      await db.$disconnect();
    }
  });
});

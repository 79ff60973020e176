import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { orderPageSchema } from '../../src/api/orders/schemas';
import { createApiHarness, eventually, KEYS, orderBody, type ApiHarness } from './helpers';

/**
 * Races through the real API, worker and database: the last units of a crop are promised at most
 * once, and stock never goes below zero, whoever races for it.
 */

let api: ApiHarness;
beforeAll(async () => {
  api = await createApiHarness();
}, 120_000);
afterAll(() => api?.teardown());

async function stock(sku: string) {
  const [row] = await api.h.db.query<{ available: number; reserved: number }>(
    'select available, reserved from products where sku = $1',
    [sku],
  );
  return row!;
}

/** Sample `available` in the background until stopped; returns the lowest value seen. */
function sampleStock(sku: string) {
  let running = true;
  let lowest = Number.POSITIVE_INFINITY;
  const loop = (async () => {
    while (running) {
      lowest = Math.min(lowest, (await stock(sku)).available);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return lowest;
    },
  };
}

/** Set a SKU's available stock through the admin API, the way an operator would. */
async function setAvailable(sku: string, target: number) {
  const { available } = await stock(sku);
  if (available === target) return;
  const res = await request(api.app)
    .post(`/admin/products/${sku}/adjust`)
    .set(KEYS.admin)
    .send({ delta: target - available, reason: `test: set to ${target}` });
  expect(res.status).toBe(200);
  expect(res.body.available).toBe(target);
}

it('when 30 customers order the last 10 units at the same moment, then exactly 10 get 202, the other 20 get 409 out-of-stock at once, and stock ends at 0 without ever going negative', async () => {
  const SKU = 'STR-ALBION';
  await setAvailable(SKU, 10);
  const reservedBefore = (await stock(SKU)).reserved;
  const sampler = sampleStock(SKU);

  const responses = await Promise.all(
    Array.from({ length: 30 }, () =>
      request(api.app)
        .post('/orders')
        .set(KEYS.customer)
        .set('Idempotency-Key', `race-${randomUUID()}`)
        .send(orderBody([{ sku: SKU, quantity: 1 }])),
    ),
  );
  // Every answer is the workflow's own decision, given before the response: reserved, or out of stock.
  const won = responses.filter((r) => r.status === 202);
  const lost = responses.filter((r) => r.status === 409);
  expect(won).toHaveLength(10);
  expect(lost).toHaveLength(20);
  for (const r of lost) {
    expect(r.body).toMatchObject({ type: '/problems/out-of-stock', shortages: [{ sku: SKU, requested: 1 }] });
  }
  const orderIds = responses.map((r) => r.body.orderId as string);
  expect(new Set(orderIds).size).toBe(30);

  // The refused orders end CANCELLED, the accepted ones wait for the crew.
  const settled = await eventually(async () => {
    const res = await request(api.app).get('/orders?limit=100').set(KEYS.admin);
    const page = orderPageSchema.parse(res.body);
    const ours = page.data.filter((o) => orderIds.includes(o.orderId));
    const decided = ours.filter((o) => o.status === 'AWAITING_HARVEST' || o.status === 'CANCELLED');
    return decided.length === 30 ? ours : undefined;
  }, 60_000);
  const lowest = await sampler.stop();
  const waiting = settled.filter((o) => o.status === 'AWAITING_HARVEST').map((o) => o.orderId);
  expect(waiting.sort()).toEqual(won.map((r) => r.body.orderId as string).sort());
  for (const order of settled.filter((o) => o.status === 'CANCELLED')) {
    expect(order.reason).toMatch(/Out of stock: STR-ALBION/);
  }

  const [{ count }] = (await api.h.db.query<{ count: string }>(
    `select count(*) from reservations where sku = $1 and status in ('ACTIVE', 'CONSUMED') and order_id = any($2)`,
    [SKU, orderIds],
  )) as [{ count: string }];
  expect(Number(count)).toBe(10);
  const after = await stock(SKU);
  expect(after.available).toBe(0);
  expect(after.reserved).toBe(reservedBefore + 10);
  expect(lowest).toBeGreaterThanOrEqual(0);

  // The availability endpoint tells the next customer the truth.
  const availability = await request(api.app).get(`/products/${SKU}/availability`);
  expect(availability.body).toMatchObject({ available: 0, reserved: reservedBefore + 10 });
  expect(availability.body.earliestDelivery).toBeUndefined();
}, 90_000);

it('when admins remove stock concurrently, then only the removals that fit succeed, each is recorded once, and stock never goes negative', async () => {
  const SKU = 'KAL-LACINATO';
  await setAvailable(SKU, 10);
  const [{ count: before }] = (await api.h.db.query<{ count: string }>(
    'select count(*) from stock_adjustments where sku = $1',
    [SKU],
  )) as [{ count: string }];
  const responses = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      request(api.app)
        .post(`/admin/products/${SKU}/adjust`)
        .set(KEYS.admin)
        .send({ delta: -3, reason: `spoiled crate ${i}` }),
    ),
  );
  const statuses = responses.map((r) => r.status).sort();
  expect(statuses).toEqual([200, 200, 200, 409, 409, 409, 409, 409]);
  for (const r of responses.filter((x) => x.status === 409)) expect(r.body.type).toBe('/problems/insufficient-stock');
  expect((await stock(SKU)).available).toBe(1);
  const [{ count: afterCount }] = (await api.h.db.query<{ count: string }>(
    'select count(*) from stock_adjustments where sku = $1',
    [SKU],
  )) as [{ count: string }];
  expect(Number(afterCount) - Number(before)).toBe(3);
});

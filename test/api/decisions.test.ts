import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { orderAcceptedSchema, retryAcceptedSchema } from '../../src/api/orders/schemas';
import {
  completeHarvest,
  createApiHarness,
  KEYS,
  orderBody,
  submitAndAwaitHarvest,
  waitForOrder,
  type ApiHarness,
} from './helpers';

/**
 * The API answers with the workflow's own decisions: POST /orders is an update-with-start that waits for the
 * reservation, and cancel, harvest report and booking retry are Updates. These tests check that what the API says
 * is what the workflow then does. The cancel racing the carrier hand-over runs against the real dev server
 * (test/e2e/cancel-race.test.ts).
 */
let api: ApiHarness;
beforeAll(async () => {
  api = await createApiHarness();
}, 120_000);
afterAll(() => api?.teardown());
afterEach(() => api.h.admin.clearFaults());

const app = () => api.app;
const post = (body: object, key = `k-${randomUUID()}`) =>
  request(app()).post('/orders').set(KEYS.customer).set('Idempotency-Key', key).send(body);
const stockOf = async (sku: string) =>
  (await request(app()).get(`/products/${sku}/availability`)).body as { available: number; reserved: number };
const cancel = (orderId: string) =>
  request(app()).post(`/orders/${orderId}/cancel`).set(KEYS.customer).send({ reason: 'race' });

describe('POST /orders answers with the reservation', () => {
  it('when there is stock, then 202 names the reserved lines at their prices and the harvest task with its due date', async () => {
    const res = await post(orderBody([{ sku: 'TOM-HEIRLOOM', quantity: 2 }]));
    expect(res.status).toBe(202);
    const body = orderAcceptedSchema.parse(res.body);
    expect(body.lines).toEqual([{ sku: 'TOM-HEIRLOOM', quantity: 2, unitPriceCents: 650 }]);
    expect(body.harvestTask.id).toBe(`hv-${body.orderId}`);
    expect(new Date(body.harvestTask.dueBy).getTime()).toBeGreaterThan(Date.now());
    // The answer came after the reservation: the stock is already held, the task already open.
    const order = await request(app()).get(`/orders/${body.orderId}`).set(KEYS.customer);
    expect(order.body).toMatchObject({ status: 'AWAITING_HARVEST', harvestTask: { id: body.harvestTask.id } });
    expect(body.links).toEqual({
      self: `/orders/${body.orderId}`,
      events: `/orders/${body.orderId}/events`,
      receipt: `/orders/${body.orderId}/receipt`,
      cancel: `/orders/${body.orderId}/cancel`,
    });
  });

  it('when stock is short, then 409 out-of-stock names each short SKU with what was asked and is there, nothing is reserved, and a repeat after the run ended gets the same answer', async () => {
    const before = await stockOf('KAL-LACINATO');
    const key = `k-${randomUUID()}`;
    const body = orderBody([
      { sku: 'LET-BUTTER', quantity: 1 },
      { sku: 'KAL-LACINATO', quantity: before.available + 5 },
    ]);

    const res = await post(body, key);
    expect(res.status).toBe(409);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body).toMatchObject({
      type: '/problems/out-of-stock',
      status: 409,
      shortages: [{ sku: 'KAL-LACINATO', requested: before.available + 5, available: before.available }],
    });
    expect(await stockOf('KAL-LACINATO')).toEqual(before);

    const orderId = res.body.orderId as string;
    await waitForOrder(app(), orderId, (o) => o.status === 'CANCELLED');
    const again = await post(body, key);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ type: '/problems/out-of-stock', shortages: res.body.shortages });
    const otherBody = await post(orderBody([{ sku: 'LET-BUTTER', quantity: 1 }]), key);
    expect(otherBody.status).toBe(422);
    expect(otherBody.body.type).toBe('/problems/idempotency-key-reused');
  });

  it('when an accepted order has finished, then the same key and body get the first 202 again, marked replayed; another body is 422', async () => {
    const key = `k-${randomUUID()}`;
    const body = orderBody([{ sku: 'LET-BUTTER', quantity: 1 }]);
    const first = await post(body, key);
    expect(first.status).toBe(202);
    const { orderId } = first.body as { orderId: string };
    await cancel(orderId).expect(202);
    await waitForOrder(app(), orderId, (o) => o.status === 'CANCELLED');

    const again = await post(body, key);
    expect(again.status).toBe(202);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toEqual(first.body);
    const reused = await post(orderBody([{ sku: 'LET-BUTTER', quantity: 2 }]), key);
    expect(reused.status).toBe(422);
    expect(reused.body.type).toBe('/problems/idempotency-key-reused');
  });
});

describe('POST /orders/:id/retry-booking', () => {
  it('when the order is not parked, then 409 not-parked; when both carriers failed, then 202 and the order completes; after that, 409 order-finished', async () => {
    await api.h.admin.setFaults({ primary: { refuseNext: 1 }, backup: { refuseNext: 1 } });
    const orderId = await submitAndAwaitHarvest(app(), orderBody([{ sku: 'KAL-LACINATO', quantity: 1 }]));
    const retry = () =>
      request(app()).post(`/orders/${orderId}/retry-booking`).set(KEYS.admin).send({ note: 'up again' });

    const early = await retry();
    expect(early.status).toBe(409);
    expect(early.body).toMatchObject({ type: '/problems/not-parked', orderStatus: 'AWAITING_HARVEST' });
    expect((await request(app()).post(`/orders/${orderId}/retry-booking`).set(KEYS.customer).send({})).status).toBe(
      403,
    );

    await completeHarvest(app(), orderId, [{ sku: 'KAL-LACINATO', quantity: 1 }]);
    await waitForOrder(app(), orderId, (o) => o.status === 'NEEDS_ATTENTION');
    const accepted = await retry();
    expect(accepted.status).toBe(202);
    expect(retryAcceptedSchema.parse(accepted.body)).toMatchObject({ orderId, retryRequested: true });
    await waitForOrder(app(), orderId, (o) => o.status === 'COMPLETED');
    const late = await retry();
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ type: '/problems/order-finished', orderStatus: 'COMPLETED' });
  });
});

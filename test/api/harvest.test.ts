import request from 'supertest';
import { harvestAcceptedSchema, harvestTaskListSchema } from '../../src/api/harvest/schemas';
import {
  createApiHarness,
  errorPaths,
  KEYS,
  orderBody,
  submitAndAwaitHarvest,
  waitForOrder,
  type ApiHarness,
} from './helpers';

let api: ApiHarness;
let orderId: string;
beforeAll(async () => {
  api = await createApiHarness();
  orderId = await submitAndAwaitHarvest(
    api.app,
    orderBody([
      { sku: 'TOM-HEIRLOOM', quantity: 2 },
      { sku: 'LET-BUTTER', quantity: 1 },
    ]),
  );
}, 120_000);
afterAll(() => api?.teardown());

const app = () => api.app;
const complete = (id = `hv-${orderId}`) => request(app()).post(`/harvest-tasks/${id}/complete`);

describe('GET /harvest-tasks', () => {
  it('when a crew or an admin asks, then open tasks come back with what to pick', async () => {
    for (const key of [KEYS.crew, KEYS.admin]) {
      const res = await request(app()).get('/harvest-tasks').set(key);
      expect(res.status).toBe(200);
      const { data } = harvestTaskListSchema.parse(res.body);
      expect(data.find((t) => t.orderId === orderId)).toMatchObject({
        id: `hv-${orderId}`,
        lines: [
          { sku: 'LET-BUTTER', quantity: 1 },
          { sku: 'TOM-HEIRLOOM', quantity: 2 },
        ],
        links: { complete: `/harvest-tasks/hv-${orderId}/complete` },
      });
    }
  });

  it('when a customer asks, then 403; without a key, then 401; with unknown query parameters, then 400', async () => {
    expect((await request(app()).get('/harvest-tasks').set(KEYS.customer)).status).toBe(403);
    expect((await request(app()).get('/harvest-tasks')).status).toBe(401);
    expect((await request(app()).get('/harvest-tasks?status=DONE').set(KEYS.crew)).status).toBe(400);
  });
});

describe('POST /harvest-tasks/:id/complete', () => {
  it.each([
    ['a negative quantity', { yields: [{ sku: 'TOM-HEIRLOOM', quantity: -1 }] }, ['yields.0.quantity']],
    ['no yields', { yields: [] }, ['yields']],
    ['an extra field', { yields: [{ sku: 'TOM-HEIRLOOM', quantity: 1 }], crew: 'north' }, ['crew']],
  ])('when the report has %s, then 400 names %j and the order keeps waiting', async (_name, body, fields) => {
    const res = await complete().set(KEYS.crew).send(body);
    expect(res.status).toBe(400);
    expect(res.body.type).toBe('/problems/validation');
    expect(errorPaths(res.body)).toEqual(fields);
    const order = await request(app()).get(`/orders/${orderId}`).set(KEYS.admin);
    expect(order.body.status).toBe('AWAITING_HARVEST');
  });

  it.each([
    ['a SKU not on the order', { yields: [{ sku: 'KAL-LACINATO', quantity: 1 }] }, ['yields.0.sku']],
    ['more than was ordered', { yields: [{ sku: 'TOM-HEIRLOOM', quantity: 3 }] }, ['yields.0.quantity']],
    [
      'the same SKU twice, adding up to more than was ordered',
      {
        yields: [
          { sku: 'TOM-HEIRLOOM', quantity: 2 },
          { sku: 'TOM-HEIRLOOM', quantity: 1 },
        ],
      },
      ['yields.0.quantity'],
    ],
    [
      'two bad yields',
      {
        yields: [
          { sku: 'KAL-LACINATO', quantity: 1 },
          { sku: 'LET-BUTTER', quantity: 9 },
        ],
      },
      ['yields.0.sku', 'yields.1.quantity'],
    ],
  ])(
    'when the report has %s, then the workflow refuses it: 422 names %j and the order keeps waiting',
    async (_name, body, fields) => {
      const res = await complete().set(KEYS.crew).send(body);
      expect(res.status).toBe(422);
      expect(res.body.type).toBe('/problems/harvest-report-invalid');
      expect(errorPaths(res.body)).toEqual(fields);
      const order = await request(app()).get(`/orders/${orderId}`).set(KEYS.admin);
      expect(order.body.status).toBe('AWAITING_HARVEST');
    },
  );

  it('when a customer reports, then 403; without a key, then 401; for an unknown task, then 404; a malformed ID, then 400', async () => {
    const body = { yields: [{ sku: 'TOM-HEIRLOOM', quantity: 2 }] };
    expect((await complete().set(KEYS.customer).send(body)).status).toBe(403);
    expect((await complete().send(body)).status).toBe(401);
    const missing = await complete('hv-o-missing').set(KEYS.crew).send(body);
    expect(missing.status).toBe(404);
    expect(missing.body.type).toBe('/problems/not-found');
    const malformed = await complete(`${orderId}`).set(KEYS.crew).send(body);
    expect(malformed.status).toBe(400);
    expect(errorPaths(malformed.body)).toEqual(['id']);
  });

  it('when the crew reports the full yield, then 202, the order completes, and a second report is 409 harvest-task-closed', async () => {
    const yields = [
      { sku: 'TOM-HEIRLOOM', quantity: 2 },
      { sku: 'LET-BUTTER', quantity: 1 },
    ];
    const res = await complete().set(KEYS.crew).send({ yields });
    expect(res.status).toBe(202);
    expect(harvestAcceptedSchema.parse(res.body)).toMatchObject({ taskId: `hv-${orderId}`, orderId });
    const done = await waitForOrder(app(), orderId, (o) => o.status === 'COMPLETED');
    expect(done.chargedCents).toBe(2 * 650 + 250);
    const again = await complete().set(KEYS.crew).send({ yields });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ type: '/problems/harvest-task-closed', status: 409, taskStatus: 'COMPLETED' });
    const tasks = await request(app()).get('/harvest-tasks').set(KEYS.crew);
    expect(harvestTaskListSchema.parse(tasks.body).data.some((t) => t.orderId === orderId)).toBe(false);
  });
});

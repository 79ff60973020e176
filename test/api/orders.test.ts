import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import request from 'supertest';
import type { Express } from 'express';
import { createActivities } from '../../src/activities';
import { createApp } from '../../src/api/app';
import { DEMO_KEYS, parseApiKeys } from '../../src/api/auth';
import { orderIdFor } from '../../src/api/orders/router';
import { createLogger } from '../../src/lib/logger';
import { orderWorkflowId } from '../../src/workflows/definitions';
import { createWorkflowHarness, workflowBundle, type WorkflowHarness } from '../support/workflow-harness';

const CUSTOMER = { Authorization: 'Bearer demo-customer-key' };
const OTHER = { Authorization: 'Bearer other-customer-key' };
const CREW = { Authorization: 'Bearer demo-crew-key' };

const body = () => ({
  lines: [{ sku: 'LET-BUTTER', quantity: 2 }],
  shippingAddress: {
    name: 'Dana Demo',
    line1: '1 Orchard Lane',
    city: 'Springfield',
    postalCode: '12345',
    country: 'US',
  },
});

describe('orders API', () => {
  let h: WorkflowHarness;
  let app: Express;
  let worker: Worker;
  let running: Promise<void>;

  beforeAll(async () => {
    h = await createWorkflowHarness();
    const taskQueue = `api-${randomUUID()}`;
    worker = await Worker.create({
      connection: h.env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: createActivities({ db: h.db.db, providers: h.providers }),
    });
    running = worker.run();
    app = createApp({
      db: h.db.db,
      temporal: h.env.client,
      taskQueue,
      apiKeys: parseApiKeys(`${DEMO_KEYS},other-customer-key:customer:cust-other`),
      log: createLogger('api-test', 'silent'),
    });
  }, 120_000);
  afterAll(async () => {
    worker?.shutdown();
    await running;
    await h?.teardown();
  });

  async function workflowExists(orderId: string): Promise<boolean> {
    try {
      await h.env.client.workflow.getHandle(orderWorkflowId(orderId)).describe();
      return true;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return false;
      throw error;
    }
  }

  it('when an order is valid, then it is accepted with 202 and a Location, and runs to COMPLETED with a tracking number', async () => {
    const key = `k-${randomUUID()}`;
    const res = await request(app).post('/orders').set(CUSTOMER).set('Idempotency-Key', key).send(body());
    expect(res.status).toBe(202);
    const { orderId } = res.body as { orderId: string };
    expect(orderId).toBe(orderIdFor('cust-demo', key));
    expect(res.headers.location).toBe(`/orders/${orderId}`);

    // The crew reports through the API, as a real crew would.
    let tasks: { id: string; orderId: string; lines: { sku: string; quantity: number }[] }[] = [];
    for (let i = 0; i < 200 && !tasks.some((t) => t.orderId === orderId); i++) {
      tasks = (await request(app).get('/harvest-tasks').set(CREW)).body.data;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const task = tasks.find((t) => t.orderId === orderId)!;
    const done = await request(app).post(`/harvest-tasks/${task.id}/complete`).set(CREW).send({ yields: task.lines });
    expect(done.status).toBe(202);
    await h.env.client.workflow.getHandle(orderWorkflowId(orderId)).result();

    const order = await request(app).get(`/orders/${orderId}`).set(CUSTOMER);
    expect(order.status).toBe(200);
    expect(order.body).toMatchObject({ orderId, status: 'COMPLETED', step: 'done', chargedCents: 500 });
    expect(order.body.trackingNumber).toMatch(/^PRI/);
  });

  it('when the same Idempotency-Key and body are sent again (even concurrently), then the same order is returned', async () => {
    const key = `k-${randomUUID()}`;
    const responses = await Promise.all(
      [1, 2, 3].map(() => request(app).post('/orders').set(CUSTOMER).set('Idempotency-Key', key).send(body())),
    );
    expect(responses.map((r) => r.status)).toEqual([202, 202, 202]);
    expect(new Set(responses.map((r) => r.body.orderId)).size).toBe(1);
  });

  it('when the same Idempotency-Key comes with a different body, then 422 idempotency-key-reused', async () => {
    const key = `k-${randomUUID()}`;
    await request(app).post('/orders').set(CUSTOMER).set('Idempotency-Key', key).send(body()).expect(202);
    const res = await request(app)
      .post('/orders')
      .set(CUSTOMER)
      .set('Idempotency-Key', key)
      .send({ ...body(), lines: [{ sku: 'LET-BUTTER', quantity: 3 }] });
    expect(res.status).toBe(422);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body.type).toBe('/problems/idempotency-key-reused');
  });

  it.each([
    ['no lines', { ...body(), lines: [] }, 'lines'],
    ['a negative quantity', { ...body(), lines: [{ sku: 'LET-BUTTER', quantity: -1 }] }, 'lines.0.quantity'],
    ['a client-supplied price', { ...body(), lines: [{ sku: 'LET-BUTTER', quantity: 1, priceCents: 1 }] }, 'lines.0'],
    ['a client-supplied status', { ...body(), status: 'COMPLETED' }, '(root)'],
    [
      'a bad country',
      { ...body(), shippingAddress: { ...body().shippingAddress, country: 'usa' } },
      'shippingAddress.country',
    ],
  ])('when the body has %s, then 400 names the field and no workflow starts', async (_name, bad, field) => {
    const key = `k-${randomUUID()}`;
    const res = await request(app).post('/orders').set(CUSTOMER).set('Idempotency-Key', key).send(bad);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body.type).toBe('/problems/validation');
    expect((res.body.errors as { path: string }[]).map((e) => e.path)).toContain(field);
    expect(await workflowExists(orderIdFor('cust-demo', key))).toBe(false);
  });

  it('when the body is not JSON, then 400 malformed-body', async () => {
    const res = await request(app)
      .post('/orders')
      .set(CUSTOMER)
      .set('Content-Type', 'application/json')
      .send('{"lines":');
    expect(res.status).toBe(400);
    expect(res.body.type).toBe('/problems/malformed-body');
  });

  it('when a SKU is unknown, then 422 and no workflow starts', async () => {
    const key = `k-${randomUUID()}`;
    const res = await request(app)
      .post('/orders')
      .set(CUSTOMER)
      .set('Idempotency-Key', key)
      .send({ ...body(), lines: [{ sku: 'NOPE', quantity: 1 }] });
    expect(res.status).toBe(422);
    expect(res.body.type).toBe('/problems/unknown-product');
    expect(await workflowExists(orderIdFor('cust-demo', key))).toBe(false);
  });

  it('when there is no API key, then 401; when a crew key orders, then 403', async () => {
    expect((await request(app).post('/orders').send(body())).status).toBe(401);
    expect((await request(app).post('/orders').set(CREW).send(body())).status).toBe(403);
  });

  it("when another customer asks for an order, then 404 (no one sees another's orders)", async () => {
    const res = await request(app).post('/orders').set(CUSTOMER).send(body()).expect(202);
    const other = await request(app).get(`/orders/${res.body.orderId}`).set(OTHER);
    expect(other.status).toBe(404);
    expect(other.body.type).toBe('/problems/not-found');
  });
});

describe('rate limiting', () => {
  it('when a key exceeds its per-minute budget, then 429 with Retry-After, and other keys are unaffected', async () => {
    const { rateLimit } = await import('../../src/api/rate-limit');
    const express = (await import('express')).default;
    const { authenticate } = await import('../../src/api/auth');
    const { errorHandler } = await import('../../src/api/problem');
    const limited = express();
    limited.use(authenticate(parseApiKeys(DEMO_KEYS)));
    limited.use(rateLimit(3));
    limited.get('/x', (_req, res) => void res.json({ ok: true }));
    limited.use(errorHandler(createLogger('t', 'silent')));
    for (let i = 0; i < 3; i++) await request(limited).get('/x').set(CUSTOMER).expect(200);
    const blocked = await request(limited).get('/x').set(CUSTOMER);
    expect(blocked.status).toBe(429);
    expect(blocked.body.type).toBe('/problems/rate-limited');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    await request(limited).get('/x').set(CREW).expect(200);
  });
});

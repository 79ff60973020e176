import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import type { Express } from 'express';
import request from 'supertest';
import { createActivities } from '../../src/activities';
import { createApp, type AppDeps } from '../../src/api/app';
import { DEMO_KEYS, parseApiKeys } from '../../src/api/auth';
import { createDb, type Db } from '../../src/db/client';
import { createLogger } from '../../src/lib/logger';
import { orderWorkflowId } from '../../src/workflows/definitions';
import { createWorkflowHarness, workflowBundle, type WorkflowHarness } from '../support/workflow-harness';

/**
 * The API as it runs for real, for supertest: a fresh PostgreSQL database with the demo seed, the
 * time-skipping Temporal test server, the provider sandbox and a worker with the real activities.
 */
export const KEYS = {
  customer: { Authorization: 'Bearer demo-customer-key' },
  other: { Authorization: 'Bearer other-customer-key' },
  /** A customer key whose customer is not registered. */
  ghost: { Authorization: 'Bearer ghost-customer-key' },
  crew: { Authorization: 'Bearer demo-crew-key' },
  admin: { 'X-Api-Key': 'demo-admin-key' },
  unknown: { Authorization: 'Bearer not-a-key' },
} as const;
export const API_KEYS = `${DEMO_KEYS},other-customer-key:customer:cust-other,ghost-customer-key:customer:cust-ghost`;

export interface ApiHarness {
  h: WorkflowHarness;
  app: Express;
  taskQueue: string;
  teardown: () => Promise<void>;
}

export async function createApiHarness(options: { worker?: boolean } = {}): Promise<ApiHarness> {
  const h = await createWorkflowHarness();
  const taskQueue = `api-${randomUUID()}`;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  if (options.worker !== false) {
    worker = await Worker.create({
      connection: h.env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      dataConverter: h.dataConverter,
      activities: createActivities({ db: h.db.db, providers: h.providers }),
    });
    running = worker.run();
  }
  const app = createApp({
    db: h.db.db,
    temporal: h.env.client,
    taskQueue,
    apiKeys: parseApiKeys(API_KEYS),
    log: createLogger('api-test', 'silent'),
  });
  return {
    h,
    app,
    taskQueue,
    teardown: async () => {
      worker?.shutdown();
      await running;
      await h.teardown();
    },
  };
}

/**
 * The app with clients that never connect, for what touches neither PostgreSQL nor Temporal (the
 * documentation, the index, method handling). Disconnect `db` when done.
 */
export function createOfflineApp(extra: Partial<AppDeps> = {}): { app: Express; db: Db } {
  const db = createDb('postgresql://unused:unused@127.0.0.1:1/unused', 1);
  const app = createApp({
    db,
    temporal: new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) }),
    taskQueue: 'unused',
    apiKeys: parseApiKeys(API_KEYS),
    log: createLogger('api-test', 'silent'),
    ...extra,
  });
  return { app, db };
}

/** Listen once on an ephemeral port, so thousands of requests do not each open a server. */
export async function listen(app: Express): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const address = () => ({
  name: 'Dana Demo',
  line1: '1 Orchard Lane',
  city: 'Springfield',
  postalCode: '12345',
  country: 'US',
});

export const orderBody = (lines = [{ sku: 'LET-BUTTER', quantity: 2 }], extra: Record<string, unknown> = {}) => ({
  lines,
  shippingAddress: address(),
  ...extra,
});

export async function workflowExists(h: WorkflowHarness, orderId: string): Promise<boolean> {
  try {
    await h.env.client.workflow.getHandle(orderWorkflowId(orderId)).describe();
    return true;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}

/** Poll (real time, so the test server does not skip ahead) until `check` returns a value. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition never became true');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface OrderJson {
  orderId: string;
  status: string;
  step: string;
  [key: string]: unknown;
}

/** Wait until GET /orders/:id (as admin) satisfies `predicate`. */
export function waitForOrder(app: Express, orderId: string, predicate: (order: OrderJson) => boolean) {
  return eventually(async () => {
    const res = await request(app).get(`/orders/${orderId}`).set(KEYS.admin);
    return res.status === 200 && predicate(res.body as OrderJson) ? (res.body as OrderJson) : undefined;
  });
}

/** Submit an order as `key` and wait until its workflow waits for the crew. */
export async function submitAndAwaitHarvest(
  app: Express,
  body: Record<string, unknown> = orderBody(),
  key: Record<string, string> = KEYS.customer,
): Promise<string> {
  const res = await request(app).post('/orders').set(key).set('Idempotency-Key', `k-${randomUUID()}`).send(body);
  if (res.status !== 202) throw new Error(`POST /orders answered ${res.status}: ${JSON.stringify(res.body)}`);
  const { orderId } = res.body as { orderId: string };
  await waitForOrder(app, orderId, (o) => o.status === 'AWAITING_HARVEST');
  return orderId;
}

/** Report the harvest as the crew, through the API. */
export async function completeHarvest(app: Express, orderId: string, yields: { sku: string; quantity: number }[]) {
  const res = await request(app).post(`/harvest-tasks/hv-${orderId}/complete`).set(KEYS.crew).send({ yields });
  if (res.status !== 202) throw new Error(`harvest complete answered ${res.status}: ${JSON.stringify(res.body)}`);
}

/** The `path`s of a validation problem's errors. */
export function errorPaths(body: unknown): string[] {
  return ((body as { errors?: { path: string }[] }).errors ?? []).map((e) => e.path);
}

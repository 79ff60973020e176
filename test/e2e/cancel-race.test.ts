import { randomUUID } from 'node:crypto';
import type { Worker } from '@temporalio/worker';
import type { Express } from 'express';
import request from 'supertest';
import { createActivities, type Activities } from '../../src/activities';
import { createApp } from '../../src/api/app';
import { parseApiKeys } from '../../src/api/auth';
import { cancelAcceptedSchema } from '../../src/api/orders/schemas';
import { seed } from '../../src/db/seed';
import { createLogger } from '../../src/lib/logger';
import { SandboxAdmin } from '../../src/providers/sandbox-admin';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server';
import { createWorker } from '../../src/worker';
import { API_KEYS, KEYS, orderBody, waitForOrder } from '../api/helpers';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startDevServer, type DevServer } from '../support/dev-server';
import { sandboxProviders } from '../support/providers';
import { gate } from '../support/scenarios';
import { quietRuntime, workflowBundle } from '../support/workflow-harness';

/**
 * `POST /orders/:id/cancel` races the carrier hand-over, and the answer the API gives must always be what the
 * workflow then does: 202 means the order ends CANCELLED (label voided, money back), 409 `too-late-to-cancel`
 * that it COMPLETES. The workflow alone decides (the `cancelOrder` Update), so there is no moment between a check
 * and a signal for the answer to go stale.
 *
 * On the real dev server: the time-skipping test server refuses a workflow task that asks to cancel an activity
 * which completed in the meantime, which is exactly the race this test provokes.
 */
describe('cancel racing the carrier hand-over (real dev server, API in process)', () => {
  let server: DevServer;
  let t: TestDatabase;
  let sandbox: RunningSandbox;
  let admin: SandboxAdmin;
  let worker: Worker;
  let running: Promise<void>;
  let app: Express;
  /** Held while a test wants the hand-over (confirmPickup) or a booking to be in flight. */
  let pickupGate: ReturnType<typeof gate> | undefined;
  let bookingGate: ReturnType<typeof gate> | undefined;

  beforeAll(async () => {
    quietRuntime();
    [server, t] = await Promise.all([startDevServer(), createTestDatabase()]);
    await seed(t.db);
    sandbox = await startSandbox({ databaseUrl: t.url, port: 0 });
    admin = new SandboxAdmin(sandbox.url);
    const taskQueue = `race-${randomUUID()}`;
    const deps = { db: t.db, providers: sandboxProviders(sandbox, 2_000) };
    const real = createActivities(deps);
    const held: Partial<Activities> = {
      confirmPickup: async (args) => {
        const holding = pickupGate;
        holding?.markEntered();
        await holding?.released;
        return real.confirmPickup(args);
      },
      bookCarrier: async (args) => {
        const holding = bookingGate;
        holding?.markEntered();
        await holding?.released;
        return real.bookCarrier(args);
      },
    };
    worker = await createWorker({
      connection: server.nativeConnection,
      dataConverter: server.dataConverter,
      namespace: server.namespace,
      taskQueue,
      deps,
      options: { workflowBundle: await workflowBundle(), workflowsPath: undefined, activities: { ...real, ...held } },
    });
    running = worker.run();
    app = createApp({
      db: t.db,
      temporal: server.client,
      taskQueue,
      apiKeys: parseApiKeys(API_KEYS),
      log: createLogger('race-test', 'silent'),
    });
  }, 120_000);

  afterAll(async () => {
    pickupGate?.release();
    bookingGate?.release();
    worker?.shutdown();
    await running;
    await sandbox?.close();
    await t?.drop();
    await server?.stop();
  });

  afterEach(() => {
    pickupGate?.release();
    bookingGate?.release();
    pickupGate = bookingGate = undefined;
  });

  const cancel = (orderId: string) =>
    request(app).post(`/orders/${orderId}/cancel`).set(KEYS.customer).send({ reason: 'race' });

  /** Place an order and report its harvest through the API; the order then runs to the carrier on its own. */
  async function harvestedOrder(): Promise<string> {
    const placed = await request(app)
      .post('/orders')
      .set(KEYS.customer)
      .set('Idempotency-Key', `k-${randomUUID()}`)
      .send(orderBody([{ sku: 'LET-BUTTER', quantity: 1 }]));
    expect(placed.status).toBe(202);
    const { orderId } = placed.body as { orderId: string };
    await request(app)
      .post(`/harvest-tasks/hv-${orderId}/complete`)
      .set(KEYS.crew)
      .send({ yields: [{ sku: 'LET-BUTTER', quantity: 1 }] })
      .expect(202);
    return orderId;
  }

  /** 202 means the order ends CANCELLED with nothing kept; 409 that it COMPLETES. */
  async function expectAnswerKept(orderId: string, answered: number): Promise<void> {
    const final = await waitForOrder(app, orderId, (o) => o.status === 'COMPLETED' || o.status === 'CANCELLED');
    expect({ answered, ended: final.status }).toEqual({
      answered,
      ended: answered === 202 ? 'CANCELLED' : 'COMPLETED',
    });
    if (answered === 202) {
      expect(final).toMatchObject({ refundedCents: final.chargedCents ?? 0 });
      for (const carrier of ['primary', 'backup'] as const) {
        const active = (await admin.listShipments(carrier, orderId)).filter((l) => l.status === 'PURCHASED');
        expect(active).toEqual([]);
      }
    }
  }

  it('when the cancel arrives while the label is being booked, then 202 and the order is CANCELLED with the label voided', async () => {
    bookingGate = gate();
    const orderId = await harvestedOrder();
    await bookingGate.entered;
    const res = await cancel(orderId);
    bookingGate.release();
    expect(res.status).toBe(202);
    expect(cancelAcceptedSchema.parse(res.body).alreadyCancelling).toBe(false);
    await expectAnswerKept(orderId, res.status);
  });

  it('when the cancel arrives while the parcel is being handed over, then 409 too-late-to-cancel and the order COMPLETES', async () => {
    pickupGate = gate();
    const orderId = await harvestedOrder();
    await pickupGate.entered;
    const res = await cancel(orderId);
    pickupGate.release();
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ type: '/problems/too-late-to-cancel', orderStatus: expect.any(String) });
    await expectAnswerKept(orderId, res.status);
  });

  it('when cancels are fired at spread-out moments after the harvest report, then every answer matches what the order did', async () => {
    const outcomes: { delayMs: number; answered: number }[] = [];
    for (const delayMs of [0, 10, 20, 35, 50, 70, 100, 140, 200, 300]) {
      const orderId = await harvestedOrder();
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      const res = await cancel(orderId);
      // Accepted, too late, or (when it came after the end) finished: never anything else.
      expect([202, 409]).toContain(res.status);
      outcomes.push({ delayMs, answered: res.status });
      if (res.body.type === '/problems/order-finished') continue;
      await expectAnswerKept(orderId, res.status);
    }
    expect(outcomes).toHaveLength(10);
  }, 120_000);
});

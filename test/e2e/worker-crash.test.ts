import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { seed } from '../../src/db/seed';
import { PROJECT_ROOT } from '../../src/lib/binaries';
import { SandboxAdmin } from '../../src/providers/sandbox-admin';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server';
import {
  harvestCompletedSignal,
  harvestTaskId,
  orderWorkflowId,
  statusQuery,
  type OrderInput,
  type OrderStatusView,
} from '../../src/workflows/definitions';
import type { orderFulfillment } from '../../src/workflows';
import { TEST_PAYLOAD_KEYS } from '../support/codec';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startDevServer, type DevServer } from '../support/dev-server';
import { demoOrder } from '../support/orders';

/**
 * The crash a worker fleet actually sees: the worker process dies (OOM kill, node drained, SIGKILL)
 * in the middle of an order, with a provider call in flight. Everything is real and separate: a
 * Temporal dev server, PostgreSQL, the provider sandbox over HTTP, and `src/worker.ts` started as a
 * child process exactly like `npm run worker`.
 *
 * Kill point: the charge is captured (PaymentCaptured is in order_events), and the primary carrier
 * has committed the label but its HTTP answer is held back (a `timeoutNext` fault), so the worker
 * dies inside `bookCarrier` after the provider's side effect and before anything was recorded.
 *
 * About 30 s of the test is Temporal noticing the death: the dead worker's `bookCarrier` attempt
 * only times out after the carrier preset's start-to-close timeout (30 s, no heartbeats). That is
 * the production behaviour being tested, so it is not shortened.
 */

type Handle = WorkflowHandle<typeof orderFulfillment>;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

interface WorkerProcess {
  name: string;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
}

const HAPPY_EVENTS = [
  'OrderReceived',
  'InventoryReserved',
  'HarvestScheduled',
  'HarvestCompleted',
  'OrderPacked',
  'PaymentCaptured',
  'CarrierBooked',
  'ParcelPickedUp',
  'CustomerNotified',
  'OrderCompleted',
];

describe('order worker crash (real dev server, worker in a child process)', () => {
  let server: DevServer | undefined;
  let t: TestDatabase | undefined;
  let sandbox: RunningSandbox | undefined;
  let admin: SandboxAdmin;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    [server, t] = await Promise.all([startDevServer(), createTestDatabase()]);
    await seed(t.db);
    sandbox = await startSandbox({ databaseUrl: t.url, host: '127.0.0.1', port: 0 });
    admin = new SandboxAdmin(sandbox.url);
  }, 60_000);

  afterAll(async () => {
    // Children first (even when the test failed half-way), then what they were connected to.
    for (const worker of workers) {
      if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
      await worker.exited;
    }
    await sandbox?.close();
    await t?.drop();
    await server?.stop();
  }, 30_000);

  /** `src/worker.ts` in its own process, configured through the environment like in production. */
  function startWorker(name: string, taskQueue: string): WorkerProcess {
    if (!server || !t || !sandbox) throw new Error('beforeAll did not finish');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'test',
      DATABASE_URL: t.url,
      DATABASE_POOL_SIZE: '4',
      SANDBOX_URL: sandbox.url,
      SANDBOX_SMTP_PORT: String(sandbox.smtpPort),
      // Every provider goes to the sandbox, whatever credentials the shell holds.
      STRIPE_SECRET_KEY: '',
      SMTP_URL: '',
      EASYPOST_API_KEY: '',
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: server.namespace,
      TEMPORAL_TASK_QUEUE: taskQueue,
      // The test key, as the test's own client encrypts with it.
      PAYLOAD_KEYS: TEST_PAYLOAD_KEYS,
      LOG_LEVEL: 'warn',
      // Longer than the held-back carrier answer: the first worker must still be waiting when it is killed.
      PROVIDER_TIMEOUT_MS: '30000',
    };
    delete env.WORKFLOW_BUNDLE_PATH;
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
      cwd: PROJECT_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const worker = { name, child, exited, output: () => output };
    workers.push(worker);
    return worker;
  }

  /** Poll until `check` returns something truthy; on timeout, say what the workers printed. */
  async function eventually<T>(
    what: string,
    check: () => Promise<T | undefined | false>,
    timeoutMs: number,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value) return value;
      if (Date.now() > deadline) {
        const logs = workers.map((w) => `--- ${w.name} (pid ${w.child.pid}) ---\n${w.output()}`).join('\n');
        throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}\n${logs}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  const eventTypes = async (orderId: string) =>
    (
      await t!.query<{ event_type: string }>(
        'select event_type from order_events where order_id = $1 order by version',
        [orderId],
      )
    ).map((row) => row.event_type);

  /** The status query, or undefined while no worker has run the first workflow task yet. */
  const status = (handle: Handle): Promise<OrderStatusView | undefined> =>
    handle.query(statusQuery).catch(() => undefined);

  function order(): OrderInput {
    return demoOrder('e2e', { requestHash: 'e2e' });
  }

  it('when the worker process is SIGKILLed mid-order, then a new worker finishes the order without repeating completed steps', async () => {
    const client = server!.client;
    const taskQueue = `e2e-crash-${randomUUID()}`;
    const input = order();
    const { orderId } = input;
    const skus = input.lines.map((line) => line.sku);
    const stockBefore = await t!.query<{ sku: string; available: number; reserved: number }>(
      'select sku, available, reserved from products where sku = any($1) order by sku',
      [skus],
    );

    const first = startWorker('first worker', taskQueue);
    // The primary carrier will book the label, then hold its answer back far longer than we need.
    await admin.setFaults({ primary: { timeoutNext: 1, hangMs: 60_000 } });
    const handle: Handle = await client.workflow.start<typeof orderFulfillment>('orderFulfillment', {
      taskQueue,
      workflowId: orderWorkflowId(orderId),
      args: [input],
    });

    await eventually(
      'the order to wait for its harvest',
      async () => (await status(handle))?.status === 'AWAITING_HARVEST',
      60_000, // includes the child worker bundling the workflows at start-up
    );
    await handle.signal(harvestCompletedSignal, {
      taskId: harvestTaskId(orderId),
      yields: input.lines.map((line) => ({ sku: line.sku, quantity: line.quantity })),
      reportedBy: 'crew:e2e',
    });

    // Kill point: charged, and the carrier has booked the label while its answer is still in flight.
    await eventually(
      'the charge to be captured and the primary label to be booked',
      async () =>
        (await eventTypes(orderId)).includes('PaymentCaptured') &&
        (await admin.listShipments('primary', orderId)).length === 1,
      20_000,
    );
    first.child.kill('SIGKILL');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const eventsAtKill = await eventTypes(orderId);
    expect(eventsAtKill).toEqual(HAPPY_EVENTS.slice(0, HAPPY_EVENTS.indexOf('PaymentCaptured') + 1));
    await admin.clearFaults();

    const second = startWorker('second worker', taskQueue);
    const result = await handle.result();

    expect(result).toMatchObject({ orderId, status: 'COMPLETED', carrier: 'primary', chargedCents: 2 * 650 + 250 });

    // Our records: every step's event once, in order, versions gap-free.
    const events = await t!.query<{ event_type: string; version: number }>(
      'select event_type, version from order_events where order_id = $1 order by version',
      [orderId],
    );
    const types = events.map((e) => e.event_type);
    expect(types).toEqual(HAPPY_EVENTS);
    expect(new Set(types).size).toBe(types.length);
    expect(events.map((e) => e.version)).toEqual(events.map((_, i) => i + 1));
    const [row] = await t!.query('select status, step, charged_cents from orders where id = $1', [orderId]);
    expect(row).toEqual({ status: 'COMPLETED', step: 'done', charged_cents: 1550 });
    expect(await t!.query('select status, amount_cents from payments where order_id = $1', [orderId])).toEqual([
      { status: 'SUCCEEDED', amount_cents: 1550 },
    ]);
    // The interrupted attempt recorded nothing; the retry on the new worker booked.
    expect(
      await t!.query('select carrier, attempt, outcome from shipment_attempts where order_id = $1 order by id', [
        orderId,
      ]),
    ).toEqual([{ carrier: 'primary', attempt: 2, outcome: 'booked' }]);
    expect(
      await t!.query('select carrier, status, tracking_number from shipments where order_id = $1', [orderId]),
    ).toEqual([{ carrier: 'primary', status: 'PICKED_UP', tracking_number: result.trackingNumber }]);

    // Stock moved once: the reservation was consumed, nothing is left reserved, nothing came back.
    expect(
      (await t!.query('select status from reservations where order_id = $1', [orderId])).map((r) => r.status),
    ).toEqual(['CONSUMED', 'CONSUMED']);
    const stockAfter = await t!.query<{ sku: string; available: number; reserved: number }>(
      'select sku, available, reserved from products where sku = any($1) order by sku',
      [skus],
    );
    expect(stockAfter).toEqual(
      stockBefore.map((p) => ({
        sku: p.sku,
        available: p.available - input.lines.find((l) => l.sku === p.sku)!.quantity,
        reserved: 0,
      })),
    );

    // The providers' records: one charge, one label (the one booked before the crash), one message.
    const charges = await admin.listPaymentIntents(orderId);
    expect(charges).toEqual([expect.objectContaining({ status: 'succeeded', amount: 1550 })]);
    const labels = await admin.listShipments('primary', orderId);
    expect(labels).toEqual([expect.objectContaining({ status: 'PICKED_UP', trackingCode: result.trackingNumber })]);
    expect(await admin.listShipments('backup', orderId)).toEqual([]);
    expect(await admin.listMessages(orderId)).toHaveLength(1);

    // Temporal's records: each step completed once; the charge by the first worker, and the booking
    // by the second, as attempt 2 after the dead worker's attempt timed out.
    const history = (await handle.fetchHistory()).events ?? [];
    const completed = completedActivities(history);
    expect(completed.filter((a) => a.type === 'chargeOrder')).toHaveLength(1);
    const onceOnly = ['recordOrder', 'reserveInventory', 'createHarvestTask', 'recordHarvest', 'packOrder'];
    onceOnly.push('chargeOrder', 'bookCarrier', 'confirmPickup', 'notifyCustomer');
    expect(onceOnly.map((type) => [type, completed.filter((a) => a.type === type).length])).toEqual(
      onceOnly.map((type) => [type, 1]),
    );
    const charge = completed.find((a) => a.type === 'chargeOrder')!;
    expect(charge.attempt).toBe(1);
    expect(charge.identity).toMatch(new RegExp(`^${first.child.pid}@`));
    const booking = completed.find((a) => a.type === 'bookCarrier')!;
    expect(booking.attempt).toBe(2);
    expect(booking.identity).toMatch(new RegExp(`^${second.child.pid}@`));
    expect(booking.lastFailure).toMatch(/StartToClose timeout/);
  }, 120_000);
});

interface CompletedActivity {
  type: string;
  attempt: number;
  identity: string;
  lastFailure?: string;
}

/**
 * Every completed activity of a history with its activity type, attempt and worker identity: ActivityTaskCompleted
 * events, and the markers of local activities (the database steps; their marker carries no worker identity).
 */
function completedActivities(events: HistoryEvent[]): CompletedActivity[] {
  const byId = new Map(events.map((e) => [String(e.eventId), e]));
  return events.flatMap((e): CompletedActivity[] => {
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName === 'core_local_activity') {
      const data = marker.details?.data?.payloads?.[0]?.data;
      const local = JSON.parse(Buffer.from(data ?? []).toString('utf8')) as { activity_type: string; attempt: number };
      return marker.failure ? [] : [{ type: local.activity_type, attempt: local.attempt, identity: '' }];
    }
    const done = e.activityTaskCompletedEventAttributes;
    if (!done) return [];
    const scheduled = byId.get(String(done.scheduledEventId))?.activityTaskScheduledEventAttributes;
    const started = byId.get(String(done.startedEventId))?.activityTaskStartedEventAttributes;
    return [
      {
        type: scheduled?.activityType?.name ?? '?',
        attempt: started?.attempt ?? 0,
        identity: started?.identity ?? '',
        ...(started?.lastFailure ? { lastFailure: started.lastFailure.message ?? '' } : {}),
      },
    ];
  });
}

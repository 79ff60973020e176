import { execFile } from 'node:child_process';
import { WorkflowFailedError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import type { Worker } from '@temporalio/worker';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING } from '../../src/codec/codec';
import { startCodecServer, type RunningCodecServer } from '../../src/codec/server';
import { seed } from '../../src/db/seed';
import { createLogger } from '../../src/lib/logger';
import { requireBinaryPath } from '../../src/lib/binaries';
import { SandboxAdmin } from '../../src/providers/sandbox-admin';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server';
import { createWorker } from '../../src/worker';
import { placeOrder } from '../../src/lib/order-start';
import {
  harvestCompletedSignal,
  cancelOrderUpdate,
  harvestTaskId,
  reportHarvestUpdate,
  orderWorkflowId,
  statusQuery,
  type OrderInput,
  type OrderStatusView,
} from '../../src/workflows/definitions';
import { TEST_KEY_RING } from '../support/codec';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startDevServer, type DevServer } from '../support/dev-server';
import { workflowBundle } from '../support/workflow-harness';
import { sandboxProviders } from '../support/providers';

const run = promisify(execFile);

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

/**
 * The README's operator recipes, run with the real `temporal` CLI against a real dev server,
 * exactly as written there (plus --address for the test's port): through the codec server, as payloads are encrypted.
 */
describe('README CLI recipes', () => {
  let server: DevServer;
  let t: TestDatabase;
  let sandbox: RunningSandbox;
  let admin: SandboxAdmin;
  let worker: Worker;
  let running: Promise<void>;
  let codec: RunningCodecServer;
  const token = `cli-token-${randomUUID()}`;
  const taskQueue = `cli-${randomUUID()}`;
  const cli = requireBinaryPath('temporal');

  /** `temporal <args>` without the codec: what someone with access to Temporal but not to the keys sees. */
  const temporalWithoutCodec = async (...args: string[]) => {
    const { stdout } = await run(cli, [...args, '--address', server.address, '--namespace', 'default'], {
      timeout: 30_000,
    });
    return stdout;
  };
  /** `temporal <args> --codec-endpoint ... --codec-auth 'Bearer ...'`, as the README's recipes are written. */
  const temporal = (...args: string[]) =>
    temporalWithoutCodec(...args, '--codec-endpoint', codec.url, '--codec-auth', `Bearer ${token}`);

  beforeAll(async () => {
    [server, t] = await Promise.all([startDevServer(), createTestDatabase()]);
    codec = await startCodecServer({
      codec: new AesGcmPayloadCodec(TEST_KEY_RING),
      token,
      namespace: 'default',
      corsOrigins: [],
      log: createLogger('codec-test', 'silent'),
      host: '127.0.0.1',
      port: 0,
    });
    await seed(t.db);
    sandbox = await startSandbox({ databaseUrl: t.url, port: 0 });
    admin = new SandboxAdmin(sandbox.url);
    worker = await createWorker({
      connection: server.nativeConnection,
      namespace: 'default',
      taskQueue,
      dataConverter: server.dataConverter,
      deps: { db: t.db, providers: sandboxProviders(sandbox, 2_000) },
      options: { workflowBundle: await workflowBundle(), workflowsPath: undefined },
    });
    running = worker.run();
  }, 120_000);
  afterAll(async () => {
    worker?.shutdown();
    await running?.catch(() => undefined);
    await sandbox?.close();
    await codec?.close();
    await t?.drop();
    await server?.stop();
  });

  function order(): OrderInput {
    return {
      orderId: `cli-${randomUUID()}`,
      customerId: 'cust-demo',
      lines: [{ sku: 'KAL-LACINATO', quantity: 1 }],
      acceptPartial: false,
      currency: 'USD',
      paymentMethod: 'pm_card_visa',
      shippingAddress: { name: 'Dana', line1: '1 Lane', city: 'Town', postalCode: '12345', country: 'US' },
      requestHash: 'cli',
      submittedAt: new Date().toISOString(),
    };
  }

  async function start(input: OrderInput) {
    return server.client.workflow.start('orderFulfillment', {
      taskQueue,
      workflowId: orderWorkflowId(input.orderId),
      args: [input],
    });
  }

  async function until(workflowId: string, predicate: (v: OrderStatusView) => boolean): Promise<OrderStatusView> {
    const handle = server.client.workflow.getHandle(workflowId);
    for (let i = 0; ; i++) {
      const view = await handle.query(statusQuery);
      if (predicate(view)) return view;
      if (i > 600) throw new Error(`never matched: ${JSON.stringify(view)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('when an operator signals cancelOrder from the CLI, then the order is compensated and CANCELLED', async () => {
    const input = order();
    const handle = await start(input);
    await until(handle.workflowId, (v) => v.status === 'AWAITING_HARVEST');
    await temporal(
      'workflow',
      'signal',
      '--workflow-id',
      handle.workflowId,
      '--name',
      'cancelOrder',
      '--input',
      JSON.stringify({ reason: 'customer called', requestedBy: 'ops:alex' }),
    );
    expect(await handle.result()).toMatchObject({ status: 'CANCELLED', reason: expect.stringMatching(/ops:alex/) });
    const [row] = await t.query('select status from orders where id = $1', [input.orderId]);
    expect(row?.status).toBe('CANCELLED');

    // The CLI encrypted the signal's input through the codec server before Temporal stored it.
    const { history } = await server.client.workflowService.getWorkflowExecutionHistory({
      namespace: 'default',
      execution: { workflowId: handle.workflowId },
    });
    const signal = history?.events?.find(
      (e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'cancelOrder',
    )?.workflowExecutionSignaledEventAttributes?.input?.payloads?.[0];
    expect(Buffer.from(signal?.metadata?.encoding ?? []).toString()).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(signal?.data ?? []).toString('latin1')).not.toContain('ops:alex');
  });

  it('when the CLI is used without the codec options, then it sees ciphertext only; with a wrong token the codec server refuses it', async () => {
    const input = order();
    const handle = await start(input);
    await until(handle.workflowId, (v) => v.status === 'AWAITING_HARVEST');
    const query = ['workflow', 'query', '--workflow-id', handle.workflowId, '--type', 'status', '-o', 'json'];
    expect(await temporal(...query)).toContain('AWAITING_HARVEST');
    // The same through the CLI's environment variables, as the README sets them once for every recipe.
    const { stdout: viaEnv } = await run(cli, [...query, '--address', server.address, '--namespace', 'default'], {
      timeout: 30_000,
      env: { ...process.env, TEMPORAL_CODEC_ENDPOINT: codec.url, TEMPORAL_CODEC_AUTH: `Bearer ${token}` },
    });
    expect(viaEnv).toContain('AWAITING_HARVEST');
    const raw = await temporalWithoutCodec(...query);
    expect(raw).not.toContain('AWAITING_HARVEST');
    expect(raw).toContain(Buffer.from(ENCRYPTED_ENCODING).toString('base64'));
    // The order as `temporal workflow show -o json` prints it: a payload in proto JSON (base64 data).
    const shownInput = async (show: typeof temporal) => {
      const { events } = JSON.parse(
        await show('workflow', 'show', '--workflow-id', handle.workflowId, '-o', 'json'),
      ) as { events: { workflowExecutionStartedEventAttributes?: { input: { payloads: JsonPayload[] } } }[] };
      const [payload] = events[0]?.workflowExecutionStartedEventAttributes?.input.payloads ?? [];
      return {
        encoding: Buffer.from(payload?.metadata?.encoding ?? '', 'base64').toString(),
        data: Buffer.from(payload?.data ?? '', 'base64').toString('latin1'),
      };
    };
    const decoded = await shownInput(temporal);
    expect(decoded.encoding).toBe('json/plain');
    expect(JSON.parse(decoded.data)).toMatchObject({ shippingAddress: input.shippingAddress });
    const encrypted = await shownInput(temporalWithoutCodec);
    expect(encrypted.encoding).toBe(ENCRYPTED_ENCODING);
    expect(encrypted.data).not.toContain(input.shippingAddress.line1);
    await expect(
      temporalWithoutCodec(...query, '--codec-endpoint', codec.url, '--codec-auth', 'Bearer not-the-token'),
    ).rejects.toThrow(/401/);
    await handle.cancel();
  });

  it('when an order is parked, then the CLI lists it by status, describes it, queries it, and retryCarrierBooking resumes it', async () => {
    await admin.setFaults({ primary: { outage: true }, backup: { outage: true } });
    const input = order();
    const handle = await start(input);
    try {
      await until(handle.workflowId, (v) => v.status === 'AWAITING_HARVEST');
      await handle.signal(harvestCompletedSignal, {
        taskId: harvestTaskId(input.orderId),
        yields: input.lines,
        reportedBy: 'crew:test',
      });
      await until(handle.workflowId, (v) => v.status === 'NEEDS_ATTENTION');
    } finally {
      await admin.clearFaults();
    }
    const described = JSON.parse(
      await temporal('workflow', 'describe', '--workflow-id', handle.workflowId, '-o', 'json'),
    ) as {
      workflowExecutionInfo: { status: string };
    };
    expect(described.workflowExecutionInfo.status).toMatch(/RUNNING/);
    const queried = await temporal(
      'workflow',
      'query',
      '--workflow-id',
      handle.workflowId,
      '--type',
      'status',
      '-o',
      'json',
    );
    expect(queried).toContain('NEEDS_ATTENTION');
    // Listing by status: the workflow keeps the OrderStatus search attribute current (visibility is eventually consistent).
    let listed = '';
    for (let i = 0; i < 100 && !listed.includes(handle.workflowId); i++) {
      listed = await temporal('workflow', 'list', '--query', 'OrderStatus="NEEDS_ATTENTION"', '-o', 'json');
      if (!listed.includes(handle.workflowId)) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(listed).toContain(handle.workflowId);
    const completed = await temporal('workflow', 'list', '--query', 'OrderStatus="COMPLETED"', '-o', 'json');
    expect(completed).not.toContain(handle.workflowId);

    await temporal(
      'workflow',
      'signal',
      '--workflow-id',
      handle.workflowId,
      '--name',
      'retryCarrierBooking',
      '--input',
      '{"requestedBy":"ops:alex"}',
    );
    expect(await handle.result()).toMatchObject({ status: 'COMPLETED', carrier: 'primary' });
  });

  it('when a finished run is reset to its first workflow task, then it completes again without repeating any side effect', async () => {
    const input = order();
    const handle = await start(input);
    await until(handle.workflowId, (v) => v.status === 'AWAITING_HARVEST');
    await handle.signal(harvestCompletedSignal, {
      taskId: harvestTaskId(input.orderId),
      yields: input.lines,
      reportedBy: 'crew:test',
    });
    const first = await handle.result();
    const before = await t.query('select count(*)::int as n from order_events where order_id = $1', [input.orderId]);
    const [stockBefore] = await t.query("select available, reserved from products where sku = 'KAL-LACINATO'");

    const out = await temporal(
      'workflow',
      'reset',
      '--workflow-id',
      handle.workflowId,
      '--type',
      'FirstWorkflowTask',
      '--reason',
      'cli recipe test',
      '-y',
    );
    expect(out).toMatch(/Resetting workflow/);
    // The reset run gets the harvest signal re-applied from the old history and runs every step again.
    const second = await server.client.workflow.getHandle(handle.workflowId).result();
    expect(second).toEqual(first);

    expect(await admin.listPaymentIntents(input.orderId)).toHaveLength(1);
    expect(await admin.listShipments('primary', input.orderId)).toHaveLength(1);
    expect(await admin.listMessages(input.orderId)).toHaveLength(1);
    expect(await t.query('select count(*)::int as n from order_events where order_id = $1', [input.orderId])).toEqual(
      before,
    );
    expect(await t.query("select available, reserved from products where sku = 'KAL-LACINATO'")).toEqual([stockBefore]);
  });

  it('when a completed run whose late cancel was refused is reset, then the re-applied cancel is refused again: no cancellation, no notice', async () => {
    const input = order();
    const handle = await start(input);
    await until(handle.workflowId, (v) => v.status === 'AWAITING_HARVEST');
    // The confirmation's answer is held back, so the cancel lands after the pickup, while the customer is notified.
    await admin.setFaults({ notifications: { timeoutNext: 1, hangMs: 5_000 } });
    await handle.signal(harvestCompletedSignal, {
      taskId: harvestTaskId(input.orderId),
      yields: input.lines,
      reportedBy: 'crew:test',
    });
    await until(handle.workflowId, (v) => v.step === 'notify');
    await temporal(
      'workflow',
      'signal',
      '--workflow-id',
      handle.workflowId,
      '--name',
      'cancelOrder',
      '--input',
      JSON.stringify({ reason: 'too late', requestedBy: 'ops:alex' }),
    );
    const first = await handle.result();
    expect(first).toMatchObject({ status: 'COMPLETED' });
    await admin.clearFaults();
    // The held-back answer made the send time out and retry: SMTP delivered the confirmation twice, one Message-ID.
    const copiesBeforeReset = (await admin.listMessages(input.orderId)).length;

    await temporal(
      'workflow',
      'reset',
      '--workflow-id',
      handle.workflowId,
      '--type',
      'FirstWorkflowTask',
      '--reason',
      'cli recipe test',
      '-y',
    );
    const second = await server.client.workflow.getHandle(handle.workflowId).result();

    expect(second).toEqual(first);
    const messages = await admin.listMessages(input.orderId);
    expect(messages).toHaveLength(copiesBeforeReset);
    expect(new Set(messages.map((m) => `${m.kind} ${m.messageId}`))).toEqual(
      new Set([`confirmation <${input.orderId}.confirmation@harvest-to-door.example>`]),
    );
    expect(await admin.listRefunds(input.orderId)).toEqual([]);
    expect(await t.query('select status from orders where id = $1', [input.orderId])).toEqual([
      { status: 'COMPLETED' },
    ]);
  });

  it("when an operator sends the decisions as Updates from the CLI, then each answers with the workflow's decision: a refusal names its reason, an acceptance is applied", async () => {
    const input = order();
    const handle = await start(input);
    await until(handle.workflowId, (v) => v.status === 'AWAITING_HARVEST');
    const update = (name: string, payload: unknown) =>
      temporal(
        'workflow',
        'update',
        'execute',
        '--workflow-id',
        handle.workflowId,
        '--name',
        name,
        '--input',
        JSON.stringify(payload),
      );

    // Not parked: the workflow refuses, and the CLI exits non-zero with the reason.
    const refused = await update('retryCarrierBooking', { requestedBy: 'ops:alex' }).then(
      () => undefined,
      (error: { stderr?: string; stdout?: string }) => `${error.stdout ?? ''}${error.stderr ?? ''}`,
    );
    expect(refused).toMatch(/not waiting for a booking retry/);

    const report = await update('reportHarvest', {
      taskId: harvestTaskId(input.orderId),
      yields: input.lines,
      reportedBy: 'crew:cli',
    });
    expect(report).toContain(harvestTaskId(input.orderId));
    expect(await handle.result()).toMatchObject({ status: 'COMPLETED' });
    const late = await update('cancelOrder', { reason: 'too late', requestedBy: 'ops:alex' }).then(
      () => undefined,
      (error: { stderr?: string; stdout?: string }) => `${error.stdout ?? ''}${error.stderr ?? ''}`,
    );
    expect(late).toMatch(/already completed|not found/i);
  });

  it('when an order placed by update-with-start and reported by Update is reset, then the Updates are re-applied and it completes again with no repeated side effect', async () => {
    const input = order();
    const placed = await placeOrder(server.client, input, { taskQueue, timeoutMs: 30_000 });
    expect(placed.kind).toBe('accepted');
    const handle = server.client.workflow.getHandle(orderWorkflowId(input.orderId));
    await handle.executeUpdate(reportHarvestUpdate, {
      args: [{ taskId: harvestTaskId(input.orderId), yields: input.lines, reportedBy: 'crew:test' }],
    });
    const first = await handle.result();
    await temporal(
      'workflow',
      'reset',
      '--workflow-id',
      handle.workflowId,
      '--type',
      'FirstWorkflowTask',
      '--reason',
      'cli recipe test',
      '-y',
    );
    const second = await server.client.workflow.getHandle(handle.workflowId).result();
    expect(second).toEqual(first);
    expect(await admin.listPaymentIntents(input.orderId)).toHaveLength(1);
    expect(await admin.listShipments('primary', input.orderId)).toHaveLength(1);
  });

  it('when a cancelled order is reset, then the re-run ends CANCELLED again at once: it neither reserves nor waits again, and nothing is repeated', async () => {
    const input = order();
    expect((await placeOrder(server.client, input, { taskQueue, timeoutMs: 30_000 })).kind).toBe('accepted');
    const handle = server.client.workflow.getHandle(orderWorkflowId(input.orderId));
    await handle.executeUpdate(cancelOrderUpdate, { args: [{ reason: 'changed my mind', requestedBy: 'ops:alex' }] });
    const first = await handle.result();
    const [stockBefore] = await t.query("select available, reserved from products where sku = 'KAL-LACINATO'");
    const messagesBefore = await admin.listMessages(input.orderId);

    await temporal(
      'workflow',
      'reset',
      '--workflow-id',
      handle.workflowId,
      '--type',
      'FirstWorkflowTask',
      '--reason',
      'cli recipe test',
      '-y',
    );
    const second = await server.client.workflow
      .getHandle(handle.workflowId)
      .result()
      .then(
        (value) => value,
        (error: unknown) => error,
      );
    expect(first).toMatchObject({ status: 'CANCELLED' });
    // The reset run meets the order's record (CANCELLED) and ends without acting again.
    expect(second).toBeInstanceOf(WorkflowFailedError);
    expect((second as WorkflowFailedError).cause).toMatchObject({ type: 'OrderClosed' });
    expect(await t.query('select status from orders where id = $1', [input.orderId])).toEqual([
      { status: 'CANCELLED' },
    ]);
    expect(await t.query("select available, reserved from products where sku = 'KAL-LACINATO'")).toEqual([stockBefore]);
    expect(await admin.listMessages(input.orderId)).toEqual(messagesBefore);
  });
});

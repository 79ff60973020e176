import { randomUUID } from 'node:crypto';
import { Client } from '@temporalio/client';
import { defaultPayloadConverter, type DataConverter } from '@temporalio/common';
import { ReplayError, Worker } from '@temporalio/worker';
import { UnknownPayloadKeyError } from '../../src/codec/codec';
import { dataConverterFor } from '../../src/codec/data-converter';
import { generateKeyEntry } from '../../src/codec/keys';
import { loadConfig } from '../../src/config';
import { seed } from '../../src/db/seed';
import { orderStartOptions } from '../../src/lib/order-start';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server';
import { createWorker } from '../../src/worker';
import { harvestCompletedSignal, harvestTaskId, statusQuery } from '../../src/workflows/definitions';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { sandboxProviders } from '../support/providers';
import { startDevServer, type DevServer } from '../support/dev-server';
import { payloadsOf } from '../support/history-payloads';
import { demoOrder } from '../support/orders';
import { waitForStatus, workflowBundle } from '../support/workflow-harness';

/**
 * Key rotation on the real dev server: an order starts under PAYLOAD_KEYS=k1 and waits for the crew; the worker
 * and the client restart with PAYLOAD_KEYS=k2,k1; the order completes, its new payloads use k2, and its history (both
 * keys) replays with the rotated ring. A ring without k1 can no longer read it, and a worker with such a ring fails the
 * workflow task with one error naming the missing key.
 */
describe('payload key rotation', () => {
  let server: DevServer;
  let t: TestDatabase;
  let sandbox: RunningSandbox;
  const k1 = generateKeyEntry('k1');
  const k2 = generateKeyEntry('k2');
  const converterFor = (keys: string) => dataConverterFor(loadConfig({ PAYLOAD_KEYS: keys }));

  beforeAll(async () => {
    [server, t] = await Promise.all([startDevServer(), createTestDatabase()]);
    await seed(t.db);
    sandbox = await startSandbox({ databaseUrl: t.url, port: 0 });
  }, 120_000);
  afterAll(async () => {
    await sandbox?.close();
    await t?.drop();
    await server?.stop();
  });

  const startWorker = async (taskQueue: string, dataConverter: DataConverter): Promise<Worker> =>
    createWorker({
      connection: server.nativeConnection,
      namespace: server.namespace,
      taskQueue,
      dataConverter,
      deps: { db: t.db, providers: sandboxProviders(sandbox, 2_000) },
      options: { workflowBundle: await workflowBundle(), workflowsPath: undefined },
    });
  const clientWith = (dataConverter: DataConverter) =>
    new Client({ connection: server.client.connection, namespace: server.namespace, dataConverter });

  it('when the worker restarts with k2,k1 mid-order, then the k1 run completes, new payloads use k2, and it replays', async () => {
    const taskQueue = `rotate-${randomUUID()}`;
    const input = demoOrder('rotate');
    const before = await converterFor(k1);
    const first = await startWorker(taskQueue, before);
    const handle = await first.runUntil(async () => {
      const started = await clientWith(before).workflow.start('orderFulfillment', orderStartOptions(input, taskQueue));
      await waitForStatus(started, (v) => v.status === 'AWAITING_HARVEST');
      return started;
    });

    const rotated = await converterFor(`${k2},${k1}`);
    const client = clientWith(rotated);
    const second = await startWorker(taskQueue, rotated);
    const result = await second.runUntil(async () => {
      const order = client.workflow.getHandle(handle.workflowId);
      await order.signal(harvestCompletedSignal, {
        taskId: harvestTaskId(input.orderId),
        yields: input.lines,
        reportedBy: 'crew:test',
      });
      const done = await order.result();
      expect(await order.query(statusQuery)).toMatchObject({ status: 'COMPLETED' });
      return done;
    });
    expect(result).toMatchObject({ status: 'COMPLETED' });

    const history = await client.workflow.getHandle(handle.workflowId).fetchHistory();
    const keyOf = (path: string) => payloadsOf(history).find((p) => p.path.startsWith(path))?.keyId;
    expect(keyOf('workflowExecutionStartedEventAttributes.input')).toBe('k1');
    expect(keyOf('workflowExecutionSignaledEventAttributes.input')).toBe('k2');
    expect(keyOf('workflowExecutionCompletedEventAttributes.result')).toBe('k2');
    expect(new Set(payloadsOf(history).flatMap((p) => (p.keyId ? [p.keyId] : [])))).toEqual(new Set(['k1', 'k2']));

    const bundle = await workflowBundle();
    await expect(
      Worker.runReplayHistory({ workflowBundle: bundle, dataConverter: rotated }, history, handle.workflowId),
    ).resolves.toBeUndefined();
    const withoutK1 = await Worker.runReplayHistory(
      { workflowBundle: bundle, dataConverter: await converterFor(k2) },
      history,
      handle.workflowId,
    ).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(withoutK1).toBeInstanceOf(ReplayError);
  });

  it('when a worker lacks the key a payload names, then the workflow task fails with one error naming that key ID', async () => {
    const taskQueue = `rotate-${randomUUID()}`;
    const input = demoOrder('rotate');
    const handle = await clientWith(await converterFor(k1)).workflow.start(
      'orderFulfillment',
      orderStartOptions(input, taskQueue),
    );
    const onlyK2 = await converterFor(k2);
    const worker = await startWorker(taskQueue, onlyK2);
    const failure = await worker.runUntil(async () => {
      for (let i = 0; i < 200; i++) {
        const history = await handle.fetchHistory();
        const failed = history.events?.find((e) => e.workflowTaskFailedEventAttributes)
          ?.workflowTaskFailedEventAttributes?.failure;
        if (failed) return failed;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error('the workflow task never failed');
    });
    await handle.terminate('test done');
    // As the Web UI shows it through the codec server: the failure's encoded attributes, decrypted.
    expect(failure.message).toBe('Encoded failure');
    const [attributes] = await (onlyK2.payloadCodecs ?? [])[0]!.decode([failure.encodedAttributes!]);
    const { message } = defaultPayloadConverter.fromPayload<{ message: string }>(attributes!);
    expect(message).toBe(new UnknownPayloadKeyError('k1', ['k2']).message);
    expect(message).toMatch(/^Payload is encrypted with key "k1", which is not in this process's key ring/);
  });
});

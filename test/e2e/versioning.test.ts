import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import type { WorkflowHandle } from '@temporalio/client';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { seed } from '../../src/db/seed';
import { requireBinaryPath } from '../../src/lib/binaries';
import { placeOrder } from '../../src/lib/order-start';
import { setCurrentVersion } from '../../src/lib/worker-deployment';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server';
import { createWorker } from '../../src/worker';
import type { orderFulfillment } from '../../src/workflows';
import {
  harvestTaskId,
  orderWorkflowId,
  reportHarvestUpdate,
  statusQuery,
  type OrderInput,
} from '../../src/workflows/definitions';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { startDevServer, type DevServer } from '../support/dev-server';
import { demoOrder } from '../support/orders';
import { sandboxProviders } from '../support/providers';
import { quietRuntime, workflowBundle } from '../support/workflow-harness';
import { bundleWithEdit } from '../support/workflow-variants';

type Handle = WorkflowHandle<typeof orderFulfillment>;

/**
 * One whole change cycle of the workflow with Worker Deployment Versioning, on the real dev server, as README
 * "Shipping a change to the workflow" describes it: orders started on build 1 wait at the harvest; build 2, whose
 * workflow records a quality check after the harvest behind `patched('quality-check')`, is rolled out and made
 * current; build 1's workers stop; the waiting orders move to build 2 (AUTO_UPGRADE) and complete there, taking the
 * new step; and every history of both builds replays against build 2's code. The same change made without
 * `patched()` cannot replay build 1's histories: that is what the patch is for.
 */

/** After recording the harvest, the order notes a quality check in its audit trail: one more command. */
const AFTER_HARVEST = '    this.order.harvestRecorded(harvested);\n';
const QUALITY_CHECK = "await this.mark('quality-checked', 'QualityChecked', { by: 'build 2' });\n";
const withPatch = (code: string) =>
  code
    .replace(AFTER_HARVEST, `${AFTER_HARVEST}    if (patched('quality-check')) ${QUALITY_CHECK}`)
    .replace('import {\n  allHandlersFinished,', 'import {\n  patched,\n  allHandlersFinished,');
const withoutPatch = (code: string) => code.replace(AFTER_HARVEST, `${AFTER_HARVEST}    ${QUALITY_CHECK}`);

describe('shipping a change to the workflow (worker deployment versioning, real dev server)', () => {
  let server: DevServer;
  let t: TestDatabase;
  let sandbox: RunningSandbox;
  let build1: WorkflowBundleWithSourceMap;
  let build2: WorkflowBundleWithSourceMap;
  let unpatched: WorkflowBundleWithSourceMap;
  const deploymentName = `htd-versioning-${randomUUID().slice(0, 8)}`;
  const taskQueue = `versioning-${randomUUID()}`;
  const workers: { worker: Worker; running: Promise<void> }[] = [];

  beforeAll(async () => {
    quietRuntime();
    [server, t, build1, build2, unpatched] = await Promise.all([
      startDevServer(),
      createTestDatabase(),
      workflowBundle(),
      bundleWithEdit(withPatch),
      bundleWithEdit(withoutPatch),
    ]);
    await seed(t.db);
    sandbox = await startSandbox({ databaseUrl: t.url, port: 0 });
  }, 180_000);

  afterAll(async () => {
    for (const { worker, running } of workers) {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
    }
    await sandbox?.close();
    await t?.drop();
    await server?.stop();
  });

  /** Start a worker of `buildId` running `bundle`, and make its build the deployment's current version. */
  async function rollOut(buildId: string, bundle: WorkflowBundleWithSourceMap): Promise<Worker> {
    const worker = await createWorker({
      connection: server.nativeConnection,
      dataConverter: server.dataConverter,
      namespace: server.namespace,
      taskQueue,
      deps: { db: t.db, providers: sandboxProviders(sandbox, 2_000) },
      deployment: { name: deploymentName, buildId },
      options: { workflowBundle: bundle, workflowsPath: undefined },
    });
    workers.push({ worker, running: worker.run() });
    await setCurrentVersion(server.client.workflowService, {
      namespace: server.namespace,
      deploymentName,
      buildId,
      identity: 'versioning test',
    });
    return worker;
  }

  async function place(): Promise<{ input: OrderInput; handle: Handle }> {
    const input = demoOrder('ver');
    const answer = await placeOrder(server.client, input, { taskQueue, timeoutMs: 30_000 });
    expect(answer.kind).toBe('accepted');
    return { input, handle: server.client.workflow.getHandle(orderWorkflowId(input.orderId)) };
  }

  const report = (handle: Handle, input: OrderInput) =>
    handle.executeUpdate(reportHarvestUpdate, {
      args: [{ taskId: harvestTaskId(input.orderId), yields: input.lines, reportedBy: 'crew:test' }],
    });

  const events = async (orderId: string) =>
    (
      await t.query<{ event_type: string }>(
        'select event_type from order_events where order_id = $1 order by version',
        [orderId],
      )
    ).map((row) => row.event_type);

  /** The build the run is on now, as the server records it. */
  const buildOf = async (handle: Handle) =>
    (await handle.describe()).raw.workflowExecutionInfo?.versioningInfo?.deploymentVersion?.buildId;

  it('when build 2 is rolled out while orders of build 1 wait for their harvest, then they finish on build 2 with its change, and every history replays', async () => {
    const worker1 = await rollOut('build-1', build1);

    // An order that runs its whole life on build 1, and two that are waiting for the crew when build 2 arrives.
    const done = await place();
    await report(done.handle, done.input);
    await done.handle.result();
    const waiting = [await place(), await place()];
    for (const { handle } of waiting) {
      expect((await handle.query(statusQuery)).status).toBe('AWAITING_HARVEST');
      expect(await buildOf(handle)).toBe('build-1');
    }

    await rollOut('build-2', build2);
    // The README's recipe shows the operator which build is current.
    const described = await promisify(execFile)(
      requireBinaryPath('temporal'),
      ['worker', 'deployment', 'describe', '--name', deploymentName, '--address', server.address, '-o', 'json'],
      { timeout: 30_000 },
    );
    expect(JSON.parse(described.stdout)).toMatchObject({ routingConfig: { currentVersionBuildID: 'build-2' } });
    // Build 1 is drained: nothing of it is needed for the waiting orders any more.
    worker1.shutdown();
    await workers[0]?.running;

    for (const { handle, input } of waiting) {
      await report(handle, input);
      expect(await handle.result()).toMatchObject({ status: 'COMPLETED' });
      expect(await buildOf(handle)).toBe('build-2');
      // The change took effect for them: they met it after the rollout.
      expect(await events(input.orderId)).toContain('QualityChecked');
    }
    const fresh = await place();
    await report(fresh.handle, fresh.input);
    await fresh.handle.result();
    expect(await events(fresh.input.orderId)).toContain('QualityChecked');
    expect(await events(done.input.orderId)).not.toContain('QualityChecked');

    const histories = await Promise.all(
      [done, ...waiting, fresh].map(async ({ handle }) => ({
        id: handle.workflowId,
        history: await handle.fetchHistory(),
      })),
    );
    // Both builds' histories replay against build 2, the code now running.
    for (const { id, history } of histories) {
      await expect(
        Worker.runReplayHistory({ workflowBundle: build2, dataConverter: server.dataConverter }, history, id),
      ).resolves.toBeUndefined();
    }
    // Build 1's own history still replays against build 1, for a rollback before anything moved.
    await expect(
      Worker.runReplayHistory(
        { workflowBundle: build1, dataConverter: server.dataConverter },
        histories[0]!.history,
        histories[0]!.id,
      ),
    ).resolves.toBeUndefined();
    // Without patched(), the same change breaks the order that ran on build 1.
    const unsafe = await Worker.runReplayHistory(
      { workflowBundle: unpatched, dataConverter: server.dataConverter },
      histories[0]!.history,
      'unsafe',
    ).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(unsafe).toBeInstanceOf(DeterminismViolationError);
  }, 180_000);
});

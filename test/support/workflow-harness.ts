import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  bundleWorkflowCode,
  Runtime,
  DefaultLogger,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import type { DataConverter } from '@temporalio/common';
import { createActivities, type Activities } from '../../src/activities';
import { FAILURE_CONVERTER_PATH } from '../../src/codec/data-converter';
import { seed } from '../../src/db/seed';
import { sdkExecutable } from '../../src/lib/binaries';
import { orderStartOptions, placeOrder, type PlaceOrderAnswer } from '../../src/lib/order-start';
import { SandboxAdmin } from '../../src/providers/sandbox-admin';
import type { Providers } from '../../src/providers/types';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server';
import {
  orderWorkflowId,
  statusQuery,
  type OrderInput,
  type OrderResult,
  type OrderStatusView,
} from '../../src/workflows/definitions';
import { orderFulfillment } from '../../src/workflows';
import { SEARCH_ATTRIBUTES } from '../../src/workflows/search-attributes';
import { testDataConverter } from './codec';
import { createTestDatabase, type TestDatabase } from './db';
import { sandboxProviders } from './providers';
import { demoOrder } from './orders';

let runtimeInstalled = false;
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed by another harness in this process.
  }
}

/**
 * Everything a workflow test needs, all real: the time-skipping test server, a fresh PostgreSQL
 * database with migrations and the demo seed, the provider sandbox (Stripe, EasyPost and SMTP protocols) with the
 * production adapters pointed at it, and the real activities. One per test file; each test gets its own task queue and order ID.
 */
export interface WorkflowHarness {
  /** Its client encrypts with the test key (test/support/codec.ts); so must every worker started on it. */
  env: TestWorkflowEnvironment;
  dataConverter: DataConverter;
  db: TestDatabase;
  sandbox: RunningSandbox;
  admin: SandboxAdmin;
  providers: Providers;
  /** Order input with sensible defaults; every call gets a fresh order ID. */
  order: (overrides?: Partial<OrderInput>) => OrderInput;
  /**
   * Start a worker on a fresh task queue, start the order, run `body` with its handle while the
   * worker runs, and return what `body` returns.
   */
  run: <T>(
    input: OrderInput,
    body: (handle: WorkflowHandle<typeof orderFulfillment>) => Promise<T>,
    options?: {
      activities?: Partial<Activities> | ((real: Activities) => Partial<Activities>);
      /** Start with nothing but task queue, ID and input (as `temporal workflow start` would), not as the API does. */
      bareStart?: boolean;
    },
  ) => Promise<T>;
  /**
   * Like `run`, but the order is placed as `POST /orders` places it: started by update-with-start, waiting for the
   * `placeOrder` answer, which `body` gets with the handle.
   */
  place: <T>(
    input: OrderInput,
    body: (handle: WorkflowHandle<typeof orderFulfillment>, answer: PlaceOrderAnswer) => Promise<T>,
    options?: { activities?: Partial<Activities> | ((real: Activities) => Partial<Activities>) },
  ) => Promise<T>;
  teardown: () => Promise<void>;
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    failureConverterPath: FAILURE_CONVERTER_PATH,
    logger: new DefaultLogger('WARN'),
  });
  return bundle;
}

export async function createWorkflowHarness(options: { providerTimeoutMs?: number } = {}): Promise<WorkflowHarness> {
  quietRuntime();
  const dataConverter = testDataConverter();
  const [env, db] = await Promise.all([
    TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: sdkExecutable('temporal-test-server') },
      client: { dataConverter },
    }),
    createTestDatabase(),
  ]);
  // The workflow keeps custom search attributes current; the test server must know them, like a real one.
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(
      Object.keys(SEARCH_ATTRIBUTES).map((name) => [
        name,
        temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
      ]),
    ),
  });
  await seed(db.db);
  await db.query(
    `insert into customers (id, name, email) values ('cust-other', 'Other', 'other@example.com') on conflict do nothing`,
  );
  const sandbox = await startSandbox({ databaseUrl: db.url, host: '127.0.0.1', port: 0 });
  const providers = sandboxProviders(sandbox, options.providerTimeoutMs ?? 2_000);
  const real = createActivities({ db: db.db, providers });
  const code = await workflowBundle();

  /** Run `body` while a worker with the real activities (and any overrides) polls a fresh task queue. */
  async function withWorker<T>(
    activities: Partial<Activities> | ((real: Activities) => Partial<Activities>) | undefined,
    body: (taskQueue: string) => Promise<T>,
  ): Promise<T> {
    const taskQueue = `tq-${randomUUID()}`;
    const overrides = typeof activities === 'function' ? activities(real) : (activities ?? {});
    const worker = await Worker.create({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue,
      workflowBundle: code,
      dataConverter,
      activities: { ...real, ...overrides },
    });
    return worker.runUntil(() => body(taskQueue));
  }

  return {
    env,
    dataConverter,
    db,
    sandbox,
    admin: new SandboxAdmin(sandbox.url),
    providers,
    order: (overrides = {}) => demoOrder('t', overrides),
    run: async (input, body, runOptions = {}) =>
      withWorker(runOptions.activities, async (taskQueue) => {
        // Started as the API starts it (search attributes included), unless the test asks otherwise.
        const handle = await env.client.workflow.start(
          orderFulfillment,
          runOptions.bareStart
            ? { taskQueue, workflowId: orderWorkflowId(input.orderId), args: [input] }
            : orderStartOptions(input, taskQueue),
        );
        return body(handle);
      }),
    place: async (input, body, placeOptions = {}) =>
      withWorker(placeOptions.activities, async (taskQueue) => {
        const answer = await placeOrder(env.client, input, { taskQueue, timeoutMs: 30_000 });
        return body(env.client.workflow.getHandle(orderWorkflowId(input.orderId)), answer);
      }),
    teardown: async () => {
      await sandbox.close();
      await db.drop();
      await env.teardown();
    },
  };
}

/** Wait (in real time, without skipping) until the workflow's status query satisfies `predicate`. */
export async function waitForStatus(
  handle: WorkflowHandle<typeof orderFulfillment>,
  predicate: (view: OrderStatusView) => boolean,
  timeoutMs = 30_000,
): Promise<OrderStatusView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await handle.query(statusQuery);
    if (predicate(view)) return view;
    if (Date.now() > deadline) throw new Error(`status never matched; last: ${JSON.stringify(view)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export type { OrderResult };

/**
 * The ceiling worker, in its own process so its CPU and memory are measured apart from the order
 * worker. Two workers in it:
 *   - BENCH_TASK_QUEUE: the bench workflows (bench/workflows) with one no-op activity;
 *   - BENCH_STUB_TASK_QUEUE: the real orderFulfillment with no-op activities (bench/stub-activities.ts).
 *
 * Env: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, BENCH_TASK_QUEUE, BENCH_STUB_TASK_QUEUE,
 * BENCH_WORKFLOW_BUNDLE and WORKFLOW_BUNDLE_PATH (prebuilt bundles; unset: bundle at start-up),
 * WORKER_OPTIONS_JSON (as for the order worker: merged into both workers' options).
 */
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { dataConverterFor } from '../src/codec/data-converter';
import { loadConfig } from '../src/config';
import { createTracing, workerTracingOptions } from '../src/lib/tracing';
import { createStubActivities } from './stub-activities';

async function main(): Promise<void> {
  const address = process.env.TEMPORAL_ADDRESS;
  const taskQueue = process.env.BENCH_TASK_QUEUE;
  const stubTaskQueue = process.env.BENCH_STUB_TASK_QUEUE;
  if (!address || !taskQueue || !stubTaskQueue) {
    throw new Error('TEMPORAL_ADDRESS, BENCH_TASK_QUEUE and BENCH_STUB_TASK_QUEUE are required');
  }
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  const config = loadConfig();
  const overrides = (config.WORKER_OPTIONS_JSON ?? {}) as Partial<WorkerOptions>;
  const benchBundle = process.env.BENCH_WORKFLOW_BUNDLE;
  const orderBundle = process.env.WORKFLOW_BUNDLE_PATH;
  // The bench's client encrypts what it sends (PAYLOAD_KEYS, as for the order worker): the ceilings carry that cost too.
  const dataConverter = await dataConverterFor(loadConfig());
  const connection = await NativeConnection.connect({ address });

  const ceilings = await Worker.create({
    dataConverter,
    connection,
    namespace,
    taskQueue,
    ...(benchBundle
      ? { workflowBundle: { codePath: benchBundle } }
      : { workflowsPath: require.resolve('./workflows') }),
    activities: { noop: async (step: string) => ({ step }) },
    ...overrides,
  });
  // The order workflow exactly as the order worker runs it (same bundle, same tracing sink), minus the activities' work.
  const tracing = createTracing('bench-stub-worker', config);
  const stubs = await Worker.create({
    dataConverter,
    connection,
    namespace,
    taskQueue: stubTaskQueue,
    ...(orderBundle
      ? { workflowBundle: { codePath: orderBundle } }
      : { workflowsPath: require.resolve('../src/workflows') }),
    activities: createStubActivities(),
    ...workerTracingOptions(tracing, orderBundle !== undefined),
    ...overrides,
  });
  console.log(JSON.stringify({ level: 30, msg: 'ceiling worker started', taskQueue, stubTaskQueue }));
  await Promise.all([ceilings.run(), stubs.run()]);
  await connection.close();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

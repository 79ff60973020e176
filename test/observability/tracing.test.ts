import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { Client } from '@temporalio/client';
import { Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { clientInterceptors, createTracing, workerTracingOptions } from '../../src/lib/tracing';
import { workflowBundleFor, writeOrderWorkflowBundles } from '../../src/lib/workflow-bundle';
import { harvestCompletedSignal, harvestTaskId, orderWorkflowId } from '../../src/workflows/definitions';
import { createWorkflowHarness, waitForStatus, type WorkflowHarness } from '../support/workflow-harness';

describe('tracing', () => {
  let h: WorkflowHarness;
  beforeAll(async () => {
    h = await createWorkflowHarness();
  }, 120_000);
  afterAll(() => h?.teardown());

  // One tracer provider for the file: OpenTelemetry's global API takes the first one registered in a process.
  const exporter = new InMemorySpanExporter();
  let tracing: ReturnType<typeof createTracing>;
  let bundleDir: string;
  beforeAll(() => {
    bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'htd-bundles-'));
    tracing = createTracing(
      'htd-test',
      { OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' },
      exporter,
    );
  });
  afterAll(async () => {
    await tracing.shutdown();
    fs.rmSync(bundleDir, { recursive: true, force: true });
  });

  it.each(['bundled at start-up', 'prebuilt as npm run build does'])(
    'when tracing is on (workflows %s), then the request span, the workflow and every activity share one trace',
    async (mode) => {
      exporter.reset();
      const client = new Client({
        connection: h.env.connection,
        interceptors: clientInterceptors(tracing),
        dataConverter: h.dataConverter,
      });
      const taskQueue = `trace-${randomUUID()}`;
      const prebuilt = mode.startsWith('prebuilt');
      let workflows: Pick<WorkerOptions, 'workflowsPath' | 'workflowBundle'> = {
        workflowsPath: require.resolve('../../src/workflows'),
      };
      if (prebuilt) {
        const plain = path.join(bundleDir, 'workflow-bundle.js');
        const written = await writeOrderWorkflowBundles(plain);
        expect(written).toEqual([plain, workflowBundleFor(plain, true)]);
        // Only the tracing variant carries the interceptors (they cost memory and CPU even when spans are dropped).
        expect(fs.readFileSync(plain, 'utf8')).not.toContain('interceptors-opentelemetry/lib/workflow');
        expect(fs.readFileSync(workflowBundleFor(plain, true), 'utf8')).toContain(
          'interceptors-opentelemetry/lib/workflow',
        );
        workflows = { workflowBundle: { codePath: workflowBundleFor(plain, true) } };
      }
      const worker = await Worker.create({
        connection: h.env.nativeConnection,
        taskQueue,
        ...workflows,
        dataConverter: h.dataConverter,
        activities: createActivities({ db: h.db.db, providers: h.providers }),
        ...workerTracingOptions(tracing, prebuilt),
      });
      const input = h.order();
      let traceId = '';
      await worker.runUntil(async () => {
        const handle = await tracing.tracer.startActiveSpan('POST /orders', async (span) => {
          traceId = span.spanContext().traceId;
          const started = await client.workflow.start('orderFulfillment', {
            taskQueue,
            workflowId: orderWorkflowId(input.orderId),
            args: [input],
          });
          span.end();
          return started;
        });
        await waitForStatus(h.env.client.workflow.getHandle(handle.workflowId), (v) => v.status === 'AWAITING_HARVEST');
        await handle.signal(harvestCompletedSignal, {
          taskId: harvestTaskId(input.orderId),
          yields: input.lines,
          reportedBy: 'crew:test',
        });
        await handle.result();
      });
      await tracing.processor?.forceFlush();
      const spans = exporter.getFinishedSpans();
      const inTrace = spans.filter((s) => s.spanContext().traceId === traceId).map((s) => s.name);
      expect(inTrace).toEqual(
        expect.arrayContaining(['POST /orders', 'StartWorkflow:orderFulfillment', 'RunWorkflow:orderFulfillment']),
      );
      for (const activity of ['reserveInventory', 'chargeOrder', 'bookCarrier', 'notifyCustomer']) {
        expect(inTrace).toContain(`RunActivity:${activity}`);
      }
    },
    120_000,
  );

  it('when tracing is off, then nothing is installed', () => {
    const tracing = createTracing('htd-test', {
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
    });
    expect(tracing.enabled).toBe(false);
    expect(workerTracingOptions(tracing)).toEqual({});
    expect(clientInterceptors(tracing)).toBeUndefined();
  });
});

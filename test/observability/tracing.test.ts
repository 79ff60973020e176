import { randomUUID } from 'node:crypto';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { clientInterceptors, createTracing, workerTracingOptions } from '../../src/lib/tracing';
import { harvestCompletedSignal, harvestTaskId, orderWorkflowId } from '../../src/workflows/definitions';
import { createWorkflowHarness, waitForStatus, type WorkflowHarness } from '../support/workflow-harness';

describe('tracing', () => {
  let h: WorkflowHarness;
  beforeAll(async () => {
    h = await createWorkflowHarness();
  }, 120_000);
  afterAll(() => h?.teardown());

  it('when tracing is on, then the request span, the workflow and every activity share one trace', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = createTracing(
      'htd-test',
      { OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' },
      exporter,
    );
    const client = new Client({ connection: h.env.connection, interceptors: clientInterceptors(tracing) });
    const taskQueue = `trace-${randomUUID()}`;
    const worker = await Worker.create({
      connection: h.env.nativeConnection,
      taskQueue,
      workflowsPath: require.resolve('../../src/workflows'),
      activities: createActivities({ db: h.db.db, providers: h.providers }),
      ...workerTracingOptions(tracing),
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
    await tracing.shutdown();
  });

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

import { context, trace, SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
  makeWorkflowExporter,
} from '@temporalio/interceptors-opentelemetry';
import type { RequestHandler } from 'express';
import type { Config } from '../config';
import { WORKFLOW_TRACING_MODULE } from './workflow-bundle';

/**
 * OpenTelemetry tracing from the HTTP request through the workflow to each activity.
 * Off by default (OTEL_TRACES_EXPORTER=none): then nothing is installed and nothing is exported.
 * The client interceptor puts the request's trace context into the workflow's headers; the
 * workflow interceptors (bundled into the workflow code) continue it, and the activity
 * interceptor continues it into each activity.
 */
export interface Tracing {
  enabled: boolean;
  tracer: Tracer;
  resource: Resource;
  processor?: SpanProcessor;
  shutdown: () => Promise<void>;
}

export function createTracing(
  service: string,
  config: Pick<Config, 'OTEL_TRACES_EXPORTER' | 'OTEL_EXPORTER_OTLP_ENDPOINT'>,
  exporterOverride?: SpanExporter,
): Tracing {
  const resource = new Resource({ 'service.name': service, 'service.namespace': 'harvest-to-door' });
  const enabled = exporterOverride !== undefined || config.OTEL_TRACES_EXPORTER !== 'none';
  if (!enabled) return { enabled, tracer: trace.getTracer(service), resource, shutdown: async () => undefined };
  const exporter: SpanExporter =
    exporterOverride ??
    (config.OTEL_TRACES_EXPORTER === 'console'
      ? new ConsoleSpanExporter()
      : new OTLPTraceExporter({ url: `${config.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/$/, '')}/v1/traces` }));
  const processor = new BatchSpanProcessor(exporter, { scheduledDelayMillis: 500 });
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  provider.register();
  return { enabled, tracer: provider.getTracer(service), resource, processor, shutdown: () => provider.shutdown() };
}

/** Client interceptors for the API's Temporal client. */
export function clientInterceptors(tracing: Tracing) {
  return tracing.enabled ? { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } : undefined;
}

/**
 * Worker options that carry traces through workflows and activities. A prebuilt bundle loaded with tracing on is the
 * `.tracing.js` one (src/lib/workflow-bundle.ts), which has the workflow interceptors inside already.
 */
export function workerTracingOptions(tracing: Tracing, prebuiltBundle = false) {
  if (!tracing.enabled || !tracing.processor) return {};
  return {
    sinks: { exporter: makeWorkflowExporter(tracing.processor, tracing.resource) },
    interceptors: {
      ...(prebuiltBundle ? {} : { workflowModules: [WORKFLOW_TRACING_MODULE] }),
      activity: [
        (ctx: ConstructorParameters<typeof OpenTelemetryActivityInboundInterceptor>[0]) => ({
          inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
        }),
      ],
    },
  };
}

/** A server span per HTTP request, active while the handler runs (so workflow starts join it). */
export function httpTracing(tracing: Tracing): RequestHandler {
  return (req, res, next) => {
    if (!tracing.enabled) return next();
    const span = tracing.tracer.startSpan(`${req.method} ${req.path}`, {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': req.method, 'url.path': req.path },
    });
    res.once('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path;
      if (route) span.updateName(`${req.method} ${route}`);
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    context.with(trace.setSpan(context.active(), span), next);
  };
}

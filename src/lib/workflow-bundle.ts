import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, type Logger } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../codec/data-converter';

/**
 * Prebuilt workflow bundles (`npm run build`): production workers load one instead of running webpack at start-up,
 * so every replica runs byte-identical workflow code and starts faster.
 *
 * Two variants, because the OpenTelemetry workflow interceptors cost a lot even when every span is dropped: measured
 * with 800 orders parked at the harvest wait (`npm run bench -- --scale 600`), the worker held 1.79 GiB with them in
 * the bundle and 0.71 GiB without, and parked orders 45% slower. So the plain bundle has no interceptors, and the
 * worker loads the `.tracing.js` one beside it only when tracing is on.
 */

/** The interceptor module that carries trace context through workflow code. */
export const WORKFLOW_TRACING_MODULE =
  require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

/** The bundle a worker loads: the plain one, or (tracing on) its `.tracing.js` sibling. */
export function workflowBundleFor(plainBundlePath: string, tracing: boolean): string {
  return tracing ? plainBundlePath.replace(/(\.js)?$/, '.tracing.js') : plainBundlePath;
}

/**
 * Bundle src/workflows, with or without the tracing interceptors. The bundle carries the project's failure converter
 * (src/codec/failure-converter.ts), so failures raised in workflow code put their message in encoded attributes too.
 */
export async function bundleOrderWorkflows(options: { tracing: boolean; logger?: Logger }): Promise<string> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    failureConverterPath: FAILURE_CONVERTER_PATH,
    workflowInterceptorModules: options.tracing ? [WORKFLOW_TRACING_MODULE] : [],
    ...(options.logger ? { logger: options.logger } : {}),
  });
  return code;
}

/** Write the plain bundle to `file` and the tracing one beside it; returns both paths. */
export async function writeOrderWorkflowBundles(file: string, logger?: Logger): Promise<string[]> {
  const written: string[] = [];
  for (const tracing of [false, true]) {
    const out = workflowBundleFor(file, tracing);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, await bundleOrderWorkflows({ tracing, logger }));
    written.push(out);
  }
  return written;
}

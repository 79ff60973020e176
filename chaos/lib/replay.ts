/**
 * Determinism: fetch the history of every workflow execution the run produced (reset runs included)
 * and replay them all with the workflow bundle the workers ran.
 */
import { Worker } from '@temporalio/worker';
import type { ChaosStack } from './stack';

export interface ReplayReport {
  executions: number;
  histories: number;
  failures: { workflowId: string; runId: string; error: string }[];
  determinismErrors: number;
  seconds: number;
}

export async function replayAll(stack: ChaosStack): Promise<ReplayReport> {
  const started = Date.now();
  const executions: { workflowId: string; runId: string }[] = [];
  for await (const execution of stack.client.workflow.list()) {
    executions.push({ workflowId: execution.workflowId, runId: execution.runId });
  }
  let fetched = 0;
  async function* histories() {
    for (const { workflowId, runId } of executions) {
      const history = await stack.client.workflow.getHandle(workflowId, runId).fetchHistory();
      fetched += 1;
      yield { workflowId, history };
    }
  }
  const failures: ReplayReport['failures'] = [];
  let determinismErrors = 0;
  for await (const result of Worker.runReplayHistories(
    {
      workflowBundle: { codePath: stack.bundlePath },
      dataConverter: stack.dataConverter,
      // The bundle carries the tracing interceptors (as in production); their span sink does nothing here.
      sinks: { exporter: { export: { fn: () => undefined } } },
    },
    histories(),
  )) {
    if (!result.error) continue;
    if (result.error.name === 'DeterminismViolationError') determinismErrors += 1;
    failures.push({
      workflowId: result.workflowId,
      runId: result.runId,
      error: `${result.error.name}: ${result.error.message}`,
    });
  }
  return {
    executions: executions.length,
    histories: fetched,
    failures,
    determinismErrors,
    seconds: Math.round((Date.now() - started) / 1000),
  };
}

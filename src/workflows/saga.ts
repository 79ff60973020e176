import { CancellationScope } from '@temporalio/workflow';
import type { CompensationOutcome } from './definitions';
import { describeFailure } from './describe';

interface Compensation {
  name: string;
  undo: () => Promise<unknown>;
}

/**
 * The order's compensations. Each is registered before the side effect it undoes (the effect may land although its
 * activity's answer is lost, and then it must still be undone; every compensation is idempotent, so undoing what
 * never happened is harmless) and they run newest first.
 */
export class Saga {
  private readonly compensations: Compensation[] = [];

  /** Register `undo` before running the step it undoes. */
  add(name: string, undo: () => Promise<unknown>): void {
    this.compensations.unshift({ name, undo });
  }

  /**
   * Run every registered compensation, newest first, in a non-cancellable scope (a cancellation must not stop the
   * undoing). One that fails does not stop the others: each outcome is reported to `onOutcome`, none is swallowed.
   */
  compensate(onOutcome: (outcome: CompensationOutcome) => void): Promise<CompensationOutcome[]> {
    return CancellationScope.nonCancellable(async () => {
      const outcomes: CompensationOutcome[] = [];
      for (const { name, undo } of this.compensations) {
        let outcome: CompensationOutcome;
        try {
          await undo();
          outcome = { name, state: 'completed', at: new Date().toISOString() };
        } catch (error) {
          outcome = { name, state: 'failed', at: new Date().toISOString(), error: describeFailure(error) };
        }
        outcomes.push(outcome);
        onOutcome(outcome);
      }
      return outcomes;
    });
  }
}

import { condition } from '@temporalio/workflow';
import type { OrderAcceptance } from './definitions';
import { applicationFailureOf, describeFailure, failureTypeOf } from './describe';
import { businessFailure } from './failures';

/**
 * The first decision a caller waits on: stock reserved and a harvest task open, or why not. Every `placeOrder`
 * Update (the first call and any repeat with the same key) gets this answer.
 */
export class Acceptance {
  private outcome: { accepted: Omit<OrderAcceptance, 'replayed'> } | { refused: unknown } | undefined;
  private answers = 0;

  get decided(): boolean {
    return this.outcome !== undefined;
  }

  get accepted(): boolean {
    return this.outcome !== undefined && 'accepted' in this.outcome;
  }

  accept(acceptance: Omit<OrderAcceptance, 'replayed'>): void {
    this.outcome ??= { accepted: acceptance };
  }

  refuse(failure: unknown): void {
    this.outcome ??= { refused: failure };
  }

  async answer(): Promise<OrderAcceptance> {
    await condition(() => this.decided);
    const outcome = this.outcome;
    if (outcome && 'accepted' in outcome) return { ...outcome.accepted, replayed: this.answers++ > 0 };
    const refused = outcome?.refused;
    throw (
      applicationFailureOf(refused) ??
      businessFailure('OrderFinished', `The order ended before it was accepted: ${describeFailure(refused)}`)
    );
  }
}

/** What an order refused at acceptance records, so a repeated request gets the same answer after the run ended. */
export function refusalOf(failure: unknown): { type: string; message: string; details: unknown[] } {
  const root = applicationFailureOf(failure);
  return { type: failureTypeOf(failure), message: describeFailure(failure), details: [...(root?.details ?? [])] };
}

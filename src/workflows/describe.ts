import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';

/** The failure at the bottom of an activity failure chain: what actually went wrong. */
function rootOf(error: unknown): unknown {
  let current: unknown = error;
  while (current instanceof ActivityFailure && current.cause) current = current.cause;
  return current;
}

/** The innermost message of a failure chain, in words an operator can act on. */
export function describeFailure(error: unknown): string {
  const root = rootOf(error);
  return root instanceof Error ? root.message : String(error);
}

/** The business type of a failure (see ./failures), or `StepFailed` for anything else. */
export function failureTypeOf(error: unknown): string {
  const root = rootOf(error);
  return root instanceof ApplicationFailure && root.type ? root.type : 'StepFailed';
}

/** The ApplicationFailure at the bottom of the chain, if that is what it is. */
export function applicationFailureOf(error: unknown): ApplicationFailure | undefined {
  const root = rootOf(error);
  return root instanceof ApplicationFailure ? root : undefined;
}

import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { BusinessFailureType } from '../workflows/failures';
import { HttpProblem, type FieldError } from './problem';

/**
 * The workflow decides; the API only translates. Each refusal an order's workflow can give (an Update's validator
 * or handler, or the `placeOrder` answer) maps to one problem document. The API keeps no rule of its own about
 * what may happen to an order.
 */
const PROBLEMS: Partial<Record<BusinessFailureType, { status: number; type: string; title: string }>> = {
  OutOfStock: { status: 409, type: 'out-of-stock', title: 'Out of stock' },
  UnknownProduct: { status: 422, type: 'unknown-product', title: 'Unknown product' },
  UnknownCustomer: { status: 422, type: 'unknown-customer', title: 'Unknown customer' },
  IdempotencyKeyReused: { status: 422, type: 'idempotency-key-reused', title: 'Idempotency-Key reused' },
  TooLateToCancel: { status: 409, type: 'too-late-to-cancel', title: 'Too late to cancel' },
  OrderFinished: { status: 409, type: 'order-finished', title: 'Order finished' },
  WrongHarvestTask: { status: 409, type: 'wrong-harvest-task', title: 'Wrong harvest task' },
  HarvestAlreadyReported: { status: 409, type: 'harvest-already-reported', title: 'Harvest already reported' },
  HarvestNotAwaited: { status: 409, type: 'harvest-task-closed', title: 'Harvest task closed' },
  HarvestReportInvalid: { status: 422, type: 'harvest-report-invalid', title: 'Harvest report refused' },
  NotParked: { status: 409, type: 'not-parked', title: 'Not parked' },
};

/** The problem types refusals map to, for the OpenAPI document. */
export const REFUSAL_PROBLEM_TYPES = Object.values(PROBLEMS).map((p) => p?.type);

/** The business failure behind an error from a client call to the workflow, if there is one. */
export function refusalOf(error: unknown): ApplicationFailure | undefined {
  if (error instanceof ApplicationFailure) return error;
  if (error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure) return error.cause;
  return undefined;
}

/** Whether the error says the order's run has ended, so no Update can reach it any more. */
export function isRunClosed(error: unknown): boolean {
  return error instanceof WorkflowNotFoundError;
}

/** A refusal as the workflow gave it: an ApplicationFailure, or the copy an order's record keeps of one. */
export interface Refusal {
  type?: string | null;
  message: string;
  details?: readonly unknown[] | null;
}

/** The problem document for a workflow's refusal (409 `order-refused` for a type without a problem of its own). */
export function problemFor(failure: Refusal, extra: Record<string, unknown> = {}): HttpProblem {
  const problem = PROBLEMS[failure.type as BusinessFailureType];
  if (!problem) {
    return new HttpProblem(409, 'order-refused', 'Order refused', failure.message, { reason: failure.type, ...extra });
  }
  const details = (failure.details?.[0] ?? {}) as { shortages?: unknown; errors?: FieldError[]; skus?: unknown };
  const members: Record<string, unknown> = { ...extra };
  if (details.shortages) members.shortages = details.shortages;
  if (details.skus) members.skus = details.skus;
  if (details.errors) members.errors = details.errors.map((e) => ({ in: 'body', ...e }));
  return new HttpProblem(problem.status, problem.type, problem.title, failure.message, members);
}

/** Translate a failed Update call: a refusal becomes its problem document, anything else is rethrown. */
export function rethrowAsProblem(error: unknown, extra?: Record<string, unknown>): never {
  const failure = refusalOf(error);
  if (failure) throw problemFor(failure, extra);
  throw error;
}

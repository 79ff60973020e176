/**
 * Every business failure of an order, in one place: what the activities and the providers throw, what the workflow
 * throws, and why an Update is refused. Each is a non-retryable `ApplicationFailure` whose `type` is one of the keys
 * below, created only through {@link businessFailure} (test/workflows/failures.test.ts checks that no other code
 * creates an `ApplicationFailure` of its own). Retrying cannot change a business answer, so retry policies need no
 * list of types: a transient failure is a plain `Error`, retried; a business one is not.
 *
 * Imported by workflow code: no Node, no config.
 */
import { ApplicationFailure } from '@temporalio/common';

/** Failures that end a step (and with it the order, through its compensations). */
export const STEP_FAILURES = {
  UnknownProduct: 'a SKU of the order is not in the catalogue',
  UnknownCustomer: 'the customer is not registered',
  OrderNotRecorded: 'the order has no row in the database',
  OrderClosed: 'a reset run met an order that already ended; its effects are not repeated',
  OutOfStock: 'not enough stock for at least one line (details: StockShortage[])',
  HarvestTimedOut: 'the crew did not report within the harvest window',
  HarvestClosed: 'the harvest task is closed: its produce is no longer with this order',
  NothingHarvested: 'the crew harvested nothing for this order',
  PartialYieldRefused: 'the harvest came up short and the order does not accept partial fulfilment',
  NothingToCharge: 'nothing was harvested, so there is nothing to charge',
  PaymentDeclined: 'the card was declined',
  IdempotencyKeyReused: 'an idempotency key (a provider call, or the order itself) was reused with other parameters',
  RefundRejected: 'the gateway refused the refund',
  CarrierRefused: 'the carrier refused the parcel; the other carrier is tried',
  LabelAlreadyPickedUp: 'the carrier already collected the parcel, so the label cannot be voided',
  LabelVoided: 'the label was voided, so it cannot be picked up',
  NotFound: 'the provider does not know the resource',
  ProviderRejected: 'the provider refused the request as malformed',
  ProviderProtocolError: "the provider's answer does not match its contract",
  ParkedTimedOut: 'no operator retried or cancelled the parked order in time',
  CompensationFailed: 'a compensation gave up; an operator must finish it by hand',
  StepFailed: 'a step gave up after its retries for a reason that is not a business rule',
} as const;

/** Why the workflow refuses an Update (or ignores the same message sent as a signal). */
export const REFUSALS = {
  TooLateToCancel: 'the carrier already has the parcel',
  OrderFinished: 'the order already ended',
  WrongHarvestTask: 'the report names another harvest task than this order’s',
  HarvestAlreadyReported: 'the crew reported this harvest already',
  HarvestNotAwaited: 'the order is not waiting for a harvest report',
  HarvestReportInvalid: 'a yield names a SKU the order does not have, or more than was ordered',
  NotParked: 'the order is not parked in NEEDS_ATTENTION, so there is no booking to retry',
} as const;

export type StepFailureType = keyof typeof STEP_FAILURES;
export type RefusalType = keyof typeof REFUSALS;
export type BusinessFailureType = StepFailureType | RefusalType;

/** A business failure: non-retryable, typed, with optional structured details (the first detail). */
export function businessFailure(
  type: BusinessFailureType,
  message: string,
  options: { details?: unknown; cause?: Error } = {},
): ApplicationFailure {
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable: true,
    details: options.details === undefined ? undefined : [options.details],
    cause: options.cause,
  });
}

/** Whether `type` names one of the failures above (as opposed to a Temporal or an unexpected failure). */
export function isBusinessFailureType(type: string | undefined | null): type is BusinessFailureType {
  return type !== undefined && type !== null && (type in STEP_FAILURES || type in REFUSALS);
}

import type { ApplicationFailure } from '@temporalio/common';
import { businessFailure, type StepFailureType } from '../workflows/failures';

/**
 * How provider failures surface to activities, and through them to Temporal's retry policies:
 *
 * - Business refusals (a declined card, an unserviceable address, ...) throw a non-retryable `ApplicationFailure`
 *   whose `type` is one of {@link ProviderFailureTypes} and whose first detail says what the provider answered
 *   (its error code, decline code, message). Retrying cannot change the answer; the workflow decides what to do.
 * - Transient failures (5xx, 429, network errors, timeouts, temporary SMTP replies) throw
 *   {@link ProviderUnavailableError}, a plain error that Temporal retries. Retrying is safe: payments repeat their
 *   idempotency key, labels are looked up by reference first, and a repeated e-mail carries the same Message-ID.
 */

/** `ApplicationFailure.type` values thrown by the provider clients: a subset of the order's failures (../workflows/failures). */
export const ProviderFailureTypes = {
  /** The card was declined (Stripe's `card_error`); the detail carries the decline code. */
  PaymentDeclined: 'PaymentDeclined',
  /** The idempotency key was first used with different parameters: a bug in how keys are derived. */
  IdempotencyKeyReused: 'IdempotencyKeyReused',
  /** Refund refused: unknown charge, or more than what is left of it. */
  RefundRejected: 'RefundRejected',
  /** Carrier refused the booking (unserviceable address, refused parcel). Try another carrier. */
  CarrierRefused: 'CarrierRefused',
  /** A label cannot be voided once the carrier collected the parcel. */
  LabelAlreadyPickedUp: 'LabelAlreadyPickedUp',
  /** A voided label cannot be picked up. */
  LabelVoided: 'LabelVoided',
  /** The provider does not know the resource (or route). */
  NotFound: 'NotFound',
  /** Any other 4xx: the request itself is wrong. */
  ProviderRejected: 'ProviderRejected',
  /** A success response that does not match the provider's contract. */
  ProviderProtocolError: 'ProviderProtocolError',
} as const satisfies Record<string, StepFailureType>;

/** One of {@link ProviderFailureTypes}. */
export type ProviderFailureType = (typeof ProviderFailureTypes)[keyof typeof ProviderFailureTypes];

/** Context of a transient provider failure. */
export interface ProviderUnavailableDetails {
  /** Which provider, e.g. `payments`, `carrier primary`. */
  provider: string;
  method: string;
  url: string;
  /** HTTP status when the provider answered (5xx, 408, 429); absent for network errors and timeouts. */
  status?: number;
  /** Human-readable reason: `answered 503 service_unavailable`, `timed out after 200 ms`, ... */
  reason: string;
  cause?: unknown;
}

/**
 * The provider could not be reached or did not answer in time, or answered with a transient error. Retryable: the
 * call may or may not have taken effect, and repeating it with the same idempotency key is how to find out.
 */
export class ProviderUnavailableError extends Error {
  override readonly name = 'ProviderUnavailableError';
  readonly provider: string;
  readonly method: string;
  readonly url: string;
  readonly status: number | undefined;

  constructor(details: ProviderUnavailableDetails) {
    super(`${details.provider} unavailable: ${details.method} ${details.url} ${details.reason}`, {
      cause: details.cause,
    });
    this.provider = details.provider;
    this.method = details.method;
    this.url = details.url;
    this.status = details.status;
  }
}

/** What a provider answered when it refused: the first detail of the refusal's `ApplicationFailure`. */
export interface ProviderRefusalDetail {
  provider: string;
  /** HTTP status or SMTP reply code, when there was one. */
  status?: number;
  /** The provider's error code, e.g. `card_declined`, `SHIPMENT.POSTAGE.FAILURE`. */
  code?: string;
  /** Stripe's decline code of a declined card, e.g. `insufficient_funds`. */
  declineCode?: string;
  message: string;
  [extension: string]: unknown;
}

/** A non-retryable business refusal of `type`, with what the provider answered as its first detail. */
export function providerRefusal(type: ProviderFailureType, detail: ProviderRefusalDetail): ApplicationFailure {
  const message = `${detail.provider} refused: ${detail.code ? `${detail.code}: ` : ''}${detail.message}`;
  return businessFailure(type, message, { details: detail });
}

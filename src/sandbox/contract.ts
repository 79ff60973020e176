/**
 * Wire types of the provider sandbox: what its HTTP API returns and what its fault knobs accept.
 *
 * This module holds types only, so the HTTP clients in src/providers can share them without pulling
 * in Express or `pg`.
 */

/** The simulated services; each has its own fault configuration and random stream. */
export const FAULT_SERVICES = ['payments', 'primary', 'backup', 'notifications'] as const;

/** One simulated service: the payment gateway, either carrier, or the notification channel. */
export type FaultService = (typeof FAULT_SERVICES)[number];

/**
 * Faults injected into one service's mutating (POST) requests. Reads stay available so tests and operators can
 * inspect the provider's records during an outage.
 */
export interface FaultConfig {
  /** Every request answers 503 before doing anything. */
  outage?: boolean;
  /** Probability (0..1) that a request answers 503 before doing anything. */
  errorRate?: number;
  /** Probability (0..1) that a request commits its side effect, then hangs `hangMs` before answering. */
  timeoutRate?: number;
  /** Delay added to every request of the service, reads included. */
  latencyMs?: number;
  /** How long a "lost response" hangs before it is finally sent (default 30000). */
  hangMs?: number;
  /** The next N requests answer 503 before doing anything. */
  failNext?: number;
  /** The next N requests commit their side effect, then hang `hangMs` before answering. */
  timeoutNext?: number;
  /** Carriers only: the next N new bookings are refused with 422 `carrier_refused`. */
  refuseNext?: number;
}

/** Body of `PUT /_faults` and of the `SANDBOX_FAULTS` variable: merged into the current configuration. */
export type FaultsUpdate = { seed?: number } & { [S in FaultService]?: FaultConfig };

/** Body of `GET /_faults`: the whole current configuration, remaining counters included. */
export type FaultsSnapshot = { seed: number } & { [S in FaultService]: FaultConfig };

/** RFC 9457 problem details, the body of every error response (`application/problem+json`). */
export interface ProblemBody {
  /** Machine-readable code, e.g. `card_declined`, `idempotency_key_reused`. */
  type: string;
  title: string;
  status: number;
  detail: string;
  /** Extension members, e.g. `chargeId` on a decline. */
  [extension: string]: unknown;
}

/** A charge as the gateway records it; declines are recorded too. */
export interface SandboxCharge {
  id: string;
  orderId: string;
  customerId: string;
  amountCents: number;
  currency: string;
  paymentMethod: string;
  status: 'succeeded' | 'declined';
  failureCode: string | null;
  idempotencyKey: string;
  createdAt: string;
}

/** A refund against a succeeded charge. */
export interface SandboxRefund {
  id: string;
  chargeId: string;
  orderId: string;
  amountCents: number;
  idempotencyKey: string;
  createdAt: string;
}

/** Lifecycle of a shipping label: booked, then either voided or picked up, never both. */
export type LabelStatus = 'BOOKED' | 'VOIDED' | 'PICKED_UP';

/** A shipping label booked with one of the carriers. */
export interface SandboxLabel {
  labelId: string;
  carrier: 'primary' | 'backup';
  orderId: string;
  weightGrams: number;
  address: { name: string; line1: string; city: string; postalCode: string; country: string };
  trackingNumber: string;
  pickupDate: string;
  status: LabelStatus;
  idempotencyKey: string;
  createdAt: string;
  voidedAt: string | null;
  pickedUpAt: string | null;
}

/** A message accepted by the notification channel. */
export interface SandboxNotification {
  id: string;
  orderId: string;
  channel: 'email' | 'sms';
  to: string;
  subject: string;
  body: string;
  idempotencyKey: string;
  createdAt: string;
}

/** Body of `GET /_stats`: how many records each table holds. */
export interface SandboxStats {
  charges: number;
  refunds: number;
  labels: number;
  notifications: number;
}

/** Envelope of every list endpoint. */
export interface ListResponse<T> {
  data: T[];
}

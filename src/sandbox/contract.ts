/**
 * Types of the provider sandbox's operator side: its fault knobs and the records it keeps (what the simulated
 * Stripe account, shipping API and mail server hold), as `/_faults`, `/_records/*` and `/_mail/*` return them.
 *
 * This module holds types only, so src/providers/sandbox-admin.ts can share them without pulling in Express or `pg`.
 */

/** The simulated services; each has its own fault configuration and random stream. */
export const FAULT_SERVICES = ['payments', 'primary', 'backup', 'notifications'] as const;

/** One simulated service: the payment gateway, either carrier, or the notification channel. */
export type FaultService = (typeof FAULT_SERVICES)[number];

/**
 * Faults injected into one service's mutating requests (HTTP POSTs; for the mail server, every message). Reads
 * stay available so tests and operators can inspect the provider's records during an outage.
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
  /** Carriers only: the next N label purchases are refused (422 `SHIPMENT.POSTAGE.FAILURE`). */
  refuseNext?: number;
}

/** Body of `PUT /_faults` and of the `SANDBOX_FAULTS` variable: merged into the current configuration. */
export type FaultsUpdate = { seed?: number } & { [S in FaultService]?: FaultConfig };

/** Body of `GET /_faults`: the whole current configuration, remaining counters included. */
export type FaultsSnapshot = { seed: number } & { [S in FaultService]: FaultConfig };

/** A PaymentIntent as the simulated Stripe account records it (declined intents included). */
export interface SandboxPaymentIntent {
  id: string;
  /** `metadata.orderId` of the intent, if the caller set one. */
  orderId: string | null;
  amount: number;
  /** Lower case, as Stripe spells it: `usd`. */
  currency: string;
  paymentMethod: string;
  status: 'succeeded' | 'requires_payment_method';
  /** The card decline code of a declined intent, e.g. `insufficient_funds`. */
  declineCode: string | null;
  /** The Idempotency-Key of the request that created it, if it carried one. */
  idempotencyKey: string | null;
  metadata: Record<string, string>;
  createdAt: string;
}

/** A refund against a succeeded PaymentIntent. */
export interface SandboxRefund {
  id: string;
  paymentIntentId: string;
  orderId: string | null;
  amount: number;
  idempotencyKey: string | null;
  createdAt: string;
}

/** Lifecycle of a simulated EasyPost shipment: created, purchased (a label), then voided (refunded) or collected. */
export type ShipmentStatus = 'CREATED' | 'PURCHASED' | 'VOIDED' | 'PICKED_UP';

/** A shipment at the simulated shipping API, with the label once bought. */
export interface SandboxShipment {
  id: string;
  /** Which simulated carrier account it was rated and bought with. */
  carrier: 'primary' | 'backup';
  carrierAccountId: string;
  reference: string | null;
  status: ShipmentStatus;
  trackingCode: string | null;
  labelDate: string | null;
  weightOunces: number;
  toAddress: Record<string, unknown>;
  createdAt: string;
  purchasedAt: string | null;
  voidedAt: string | null;
  pickedUpAt: string | null;
}

/** A message the SMTP listener accepted, as it arrived. */
export interface SandboxMessage {
  id: string;
  /** The `Message-ID` header, angle brackets included. */
  messageId: string | null;
  envelopeFrom: string;
  envelopeTo: string[];
  subject: string;
  /** From the `X-Order-Id` and `X-Notification-Kind` headers, when the sender set them. */
  orderId: string | null;
  kind: string | null;
  text: string | null;
  html: string | null;
  attachments: { filename: string | null; contentType: string; size: number }[];
  receivedAt: string;
}

/** Body of `GET /_stats`: how many records each table holds. */
export interface SandboxStats {
  paymentIntents: number;
  refunds: number;
  shipments: number;
  pickups: number;
  messages: number;
}

/** Envelope of every admin list endpoint. */
export interface ListResponse<T> {
  data: T[];
}

/**
 * What the activities need from the outside world: a payment gateway, two shipping carriers and a notification
 * channel. Implementations, each through the provider's official client library: Stripe (src/providers/stripe.ts),
 * EasyPost with one carrier account per carrier (src/providers/easypost.ts), SMTP (src/providers/smtp.ts). The same
 * adapters talk to the real services or to the sandbox, which speaks the same protocols (src/sandbox/).
 *
 * A retry after a lost response must not act twice: payments carry an idempotency key chosen by the caller; labels
 * are found again by their reference (EasyPost has no idempotency keys); e-mail is at least once, and a duplicate is
 * recognisable by its Message-ID (SMTP has no idempotency at all).
 */

/** Charge a customer for an order. */
export interface ChargeRequest {
  idempotencyKey: string;
  orderId: string;
  customerId: string;
  amountCents: number;
  /** ISO 4217 code, e.g. `EUR`. */
  currency: string;
  paymentMethod: string;
}

/** A succeeded charge (declines throw `PaymentDeclined`). */
export interface Charge {
  chargeId: string;
  amountCents: number;
  currency: string;
}

/** Give back (part of) a charge. */
export interface RefundRequest {
  idempotencyKey: string;
  orderId: string;
  chargeId: string;
  amountCents: number;
}

/** A completed refund. */
export interface Refund {
  refundId: string;
  amountCents: number;
}

/** A charge as the gateway recorded it, found by order (whether or not its answer ever reached us). */
export interface RecordedCharge extends Charge {
  status: 'succeeded' | 'declined';
}

/** Takes and returns money. */
export interface PaymentGateway {
  charge(req: ChargeRequest): Promise<Charge>;
  refund(req: RefundRequest): Promise<Refund>;
  /** Every charge the gateway holds for an order, declines included: the way to find a charge whose answer was lost. */
  findCharges(orderId: string): Promise<RecordedCharge[]>;
}

/** The two carriers: orders ship with the primary and fall back to the backup. */
export type CarrierName = 'primary' | 'backup';

/** Delivery address of a parcel. */
export interface Address {
  name: string;
  line1: string;
  city: string;
  postalCode: string;
  country: string;
}

/** Book a label for one parcel. The carrier finds it again by the order (its reference), so it needs no key. */
export interface LabelRequest {
  orderId: string;
  weightGrams: number;
  address: Address;
}

/** A booked label. */
export interface Label {
  carrier: CarrierName;
  labelId: string;
  trackingNumber: string;
  /** ISO 8601 timestamp of the day the parcel ships (the label date). */
  pickupDate: string;
}

/** A label as the carrier recorded it, found by order (whether or not its booking answer ever reached us). */
export interface RecordedLabel extends Label {
  status: 'BOOKED' | 'VOIDED' | 'PICKED_UP';
  /** The reference the label was booked under (the order and the carrier). */
  reference: string;
  /** ISO 8601 timestamp of the pickup, once the carrier has the parcel. */
  pickedUpAt: string | null;
}

/**
 * One shipping carrier. Every call is idempotent: `book` first looks for the order's label under its reference,
 * `voidLabel` of a voided label and `confirmPickup` of a collected parcel answer as the first call did.
 */
export interface Carrier {
  readonly name: CarrierName;
  book(req: LabelRequest): Promise<Label>;
  voidLabel(labelId: string): Promise<void>;
  /** The carrier has the parcel: resolves with the time of its acceptance scan. */
  confirmPickup(labelId: string): Promise<{ pickedUpAt: string }>;
  /** Every label this carrier holds for an order (the carrier's lookup by the order's reference). */
  findLabels(orderId: string): Promise<RecordedLabel[]>;
}

/** What a message is about; with the order it names the message (its Message-ID). */
export type NotificationKind = 'confirmation' | 'cancellation';

/** Tell a customer something about their order, by e-mail. */
export interface NotificationRequest {
  orderId: string;
  kind: NotificationKind;
  to: string;
  subject: string;
  text: string;
  /** The HTML body (the receipt, for a confirmation); `text` is its plain alternative. */
  html?: string;
}

/** Sends e-mail. At least once: a send whose answer was lost may have been delivered. */
export interface NotificationChannel {
  /** Resolves with the Message-ID, derived from order and kind, so every copy of one message carries the same. */
  send(req: NotificationRequest): Promise<{ messageId: string }>;
}

/** Every provider the activities use. */
export interface Providers {
  payments: PaymentGateway;
  carriers: Record<CarrierName, Carrier>;
  notifications: NotificationChannel;
}

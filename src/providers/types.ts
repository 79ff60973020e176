/**
 * What the activities need from the outside world: a payment gateway, two shipping carriers and a notification
 * channel. Implementations: src/providers/http.ts (the sandbox, or any service speaking its API).
 *
 * Every mutating call carries an idempotency key chosen by the caller, so a retry after a lost response returns the
 * first result instead of acting twice.
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
  idempotencyKey: string;
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

/** Book a label (and with it a pickup) for one parcel. */
export interface LabelRequest {
  idempotencyKey: string;
  orderId: string;
  weightGrams: number;
  address: Address;
}

/** A booked label. */
export interface Label {
  carrier: CarrierName;
  labelId: string;
  trackingNumber: string;
  /** ISO 8601 timestamp of the scheduled pickup. */
  pickupDate: string;
}

/** A label as the carrier recorded it, found by order (whether or not its booking answer ever reached us). */
export interface RecordedLabel extends Label {
  status: 'BOOKED' | 'VOIDED' | 'PICKED_UP';
  idempotencyKey: string;
  /** ISO 8601 timestamp of the pickup, once the carrier has the parcel. */
  pickedUpAt: string | null;
}

/** One shipping carrier. `voidLabel` and `confirmPickup` are idempotent by nature and need no key. */
export interface Carrier {
  readonly name: CarrierName;
  book(req: LabelRequest): Promise<Label>;
  voidLabel(labelId: string): Promise<void>;
  confirmPickup(labelId: string): Promise<{ pickedUpAt: string }>;
  /** Every label this carrier holds for an order (the carrier's lookup by order reference). */
  findLabels(orderId: string): Promise<RecordedLabel[]>;
}

/** Tell a customer something about their order. */
export interface NotificationRequest {
  idempotencyKey: string;
  orderId: string;
  channel: 'email' | 'sms';
  to: string;
  subject: string;
  body: string;
}

/** Sends e-mails and text messages. */
export interface NotificationChannel {
  send(req: NotificationRequest): Promise<{ messageId: string }>;
}

/** Every provider the activities use. */
export interface Providers {
  payments: PaymentGateway;
  carriers: Record<CarrierName, Carrier>;
  notifications: NotificationChannel;
}

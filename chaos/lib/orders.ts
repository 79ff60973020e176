/**
 * The order stream: what customers order, how crews report, and which orders get extra treatment
 * (duplicate submissions, cancels at a chosen moment). Every choice comes from the session's PRNG.
 */
import type { Prng } from './prng';

export const MAIN_SKUS = ['TOM-HEIRLOOM', 'LET-BUTTER', 'STR-ALBION', 'POT-YUKON', 'KAL-LACINATO'] as const;
/** A product the run adds with no stock; admins add a few units at a time and many orders race for them. */
export const LAST_UNITS_SKU = 'CHS-LASTUNITS';

export interface OrderBody {
  lines: { sku: string; quantity: number }[];
  acceptPartial: boolean;
  paymentMethod: string;
  shippingAddress: { name: string; line1: string; city: string; postalCode: string; country: string };
}

/**
 * When a cancel is sent:
 * - soon: a random delay after the order was accepted (API);
 * - harvest-wait: while the harvest task is open (API);
 * - during-charge: packed, charge not recorded yet (API);
 * - during-booking: charged, label not handed over (API);
 * - late: after the carrier picked the parcel up (temporal CLI signal; the API refuses these itself);
 * - after-finish: once the order is finished (API; must be refused with 409).
 */
export type CancelMode = 'soon' | 'harvest-wait' | 'during-charge' | 'during-booking' | 'late' | 'after-finish';

export interface CancelPlan {
  mode: CancelMode;
  delayMs: number;
  done: boolean;
  outcome?: string;
  /** The API's answer to the cancel (202 or 409), when it went through the API. */
  answered?: number;
  /** The problem type of a refused cancel, e.g. /problems/too-late-to-cancel. */
  refusal?: string;
}

export interface TrackedOrder {
  index: number;
  key: string;
  body: OrderBody;
  kind: 'regular' | 'last-units' | 'reservation-burst';
  duplicates: number;
  orderId?: string;
  acceptedAt?: number;
  /** Set when `POST /orders` answered 409 out-of-stock: the workflow refused the order on the spot. */
  outOfStock?: boolean;
  submitAttempts: number;
  cancel?: CancelPlan;
  resets: number;
}

/** The shipping address of every chaos order; the invariants check Temporal's store never holds it in plain text. */
export const ADDRESS = { name: 'Chaos Customer', line1: '13 Entropy Road', city: 'Springfield', country: 'US' };

export function regularOrder(rng: Prng, key: string, index: number): TrackedOrder {
  const skus = rng.shuffle([...MAIN_SKUS]).slice(0, rng.int(1, 3));
  const body: OrderBody = {
    lines: skus.map((sku) => ({ sku, quantity: rng.int(1, 4) })),
    acceptPartial: rng.chance(0.5),
    paymentMethod: rng.weighted([
      ['pm_card_visa', 92],
      ['pm_card_chargeDeclined', 6],
      ['pm_card_chargeDeclinedInsufficientFunds', 2],
    ]),
    // 00000: the primary carrier does not deliver there, so the backup books.
    shippingAddress: { ...ADDRESS, postalCode: rng.chance(0.04) ? '00000' : '12345' },
  };
  const order: TrackedOrder = {
    index,
    key,
    body,
    kind: 'regular',
    duplicates: rng.chance(0.12) ? rng.int(2, 3) : 1,
    submitAttempts: 0,
    resets: 0,
  };
  if (rng.chance(0.22)) {
    order.cancel = {
      mode: rng.weighted<CancelMode>([
        ['soon', 25],
        ['harvest-wait', 20],
        ['during-charge', 20],
        ['during-booking', 15],
        ['late', 10],
        ['after-finish', 10],
      ]),
      delayMs: rng.int(500, 20_000),
      done: false,
    };
  }
  return order;
}

export function lastUnitsOrder(rng: Prng, key: string, index: number): TrackedOrder {
  return {
    index,
    key,
    body: {
      lines: [{ sku: LAST_UNITS_SKU, quantity: rng.chance(0.8) ? 1 : 2 }],
      acceptPartial: rng.chance(0.5),
      paymentMethod: 'pm_card_visa',
      shippingAddress: { ...ADDRESS, postalCode: '12345' },
    },
    kind: 'last-units',
    duplicates: 1,
    submitAttempts: 0,
    resets: 0,
  };
}

/** What the crew picked: mostly everything, sometimes less, rarely nothing. */
export function crewYields(rng: Prng, lines: { sku: string; quantity: number }[]): { sku: string; quantity: number }[] {
  const outcome = rng.weighted([
    ['full', 78],
    ['partial', 18],
    ['nothing', 4],
  ] as const);
  return lines.map((line) => ({
    sku: line.sku,
    quantity:
      outcome === 'full'
        ? line.quantity
        : outcome === 'nothing'
          ? 0
          : rng.chance(0.5)
            ? line.quantity
            : rng.int(0, line.quantity - 1),
  }));
}

/**
 * No-op stand-ins for every activity of the order workflow, returning what the workflow expects on
 * the happy path. The ceiling worker runs the real orderFulfillment with these ("ceiling O"), so
 * ours / ceiling O isolates what our activity code (PostgreSQL, Prisma, providers) costs, and
 * ceiling O / ceiling C what the workflow code adds on top of its bare command shape.
 */
import type { Activities } from '../src/activities';
import { harvestTaskId, type CarrierName, type ReservedLine } from '../src/workflows/definitions';

const RESERVED: ReservedLine[] = [
  { sku: 'LET-BUTTER', quantity: 1, unitPriceCents: 250, harvestLeadDays: 1, shelfLifeDays: 5 },
  { sku: 'TOM-HEIRLOOM', quantity: 2, unitPriceCents: 650, harvestLeadDays: 2, shelfLifeDays: 7 },
];

type Stubbed<K extends keyof Activities> = (...args: Parameters<Activities[K]>) => Promise<unknown>;

export function createStubActivities(): { [K in keyof Activities]?: Stubbed<K> } {
  return {
    recordOrder: async () => ({ totalCents: 1550 }),
    reserveInventory: async () => RESERVED,
    createHarvestTask: async ({ orderId, dueBy }) => ({ taskId: harvestTaskId(orderId), dueBy }),
    recordHarvest: async ({ yields }) => yields,
    packOrder: async ({ orderId }) => ({ packageId: `pk-${orderId}`, weightGrams: 1500 }),
    chargeOrder: async ({ orderId }) => ({ chargeId: `ch-${orderId}`, amountCents: 1550, currency: 'USD' }),
    bookCarrier: async ({ orderId, carrier }: { orderId: string; carrier: CarrierName }) => ({
      carrier,
      labelId: `lb-${orderId}`,
      trackingNumber: `TRK${orderId.slice(-10)}`,
      pickupDate: new Date(Date.now() + 86_400_000).toISOString(),
      pickedUp: false,
    }),
    confirmPickup: async () => ({ pickedUpAt: new Date().toISOString() }),
    notifyCustomer: async ({ orderId }) => ({ messageId: `msg-${orderId}` }),
    markOrder: async () => undefined,
    releaseReservation: async () => ({ released: 2 }),
    cancelHarvest: async () => ({ outcome: 'cancelled' }),
    unpackOrder: async () => undefined,
    refundOrder: async () => ({ refundedCents: 0 }),
    voidLabel: async () => ({ voided: 0 }),
  };
}

import { Context } from '@temporalio/activity';
import { idempotencyKeys, type CarrierName, type ShipmentView } from '../workflows/definitions';
import { appendEvent, lockOrder, setOrderState, type ActivityDeps } from './shared';

/** Shipping context: labels from the primary or the backup carrier, and the hand-over. */
export function createShippingActivities({ db, providers }: ActivityDeps) {
  async function recordAttempt(orderId: string, carrier: CarrierName, round: number, outcome: string, error?: string) {
    const attempt = Context.current().info.attempt;
    await db.shipmentAttempt.upsert({
      where: { id: `${orderId}:${carrier}:${round}:${attempt}` },
      create: { id: `${orderId}:${carrier}:${round}:${attempt}`, orderId, carrier, attempt, outcome, error },
      update: { outcome, error },
    });
  }

  return {
    /**
     * Book a label with one carrier. Every attempt, failed or not, is recorded. An order never
     * holds two active labels: an existing one is returned (and a partial unique index enforces it).
     */
    async bookCarrier({
      orderId,
      carrier,
      round,
    }: {
      orderId: string;
      carrier: CarrierName;
      round: number;
    }): Promise<ShipmentView> {
      const active = await db.shipment.findFirst({ where: { orderId, status: { not: 'VOIDED' } } });
      if (active) {
        return {
          carrier: active.carrier as CarrierName,
          labelId: active.labelId,
          trackingNumber: active.trackingNumber,
          pickupDate: active.pickupDate.toISOString(),
          pickedUp: active.status === 'PICKED_UP',
        };
      }
      const order = await db.order.findUniqueOrThrow({ where: { id: orderId }, include: { package: true } });
      let label;
      try {
        label = await providers.carriers[carrier].book({
          idempotencyKey: idempotencyKeys.label(orderId, carrier, round),
          orderId,
          weightGrams: order.package?.weightGrams ?? 500,
          address: order.shippingAddress as never,
        });
      } catch (error) {
        await recordAttempt(orderId, carrier, round, 'failed', (error as Error).message);
        throw error;
      }
      await db.$transaction(async (tx) => {
        await lockOrder(tx, orderId);
        await tx.shipment.upsert({
          where: { carrier_labelId: { carrier, labelId: label.labelId } },
          create: {
            id: `shp-${orderId}-${carrier}-${round}`,
            orderId,
            carrier,
            labelId: label.labelId,
            trackingNumber: label.trackingNumber,
            pickupDate: new Date(label.pickupDate),
            status: 'BOOKED',
          },
          update: {},
        });
        await appendEvent(tx, orderId, `${orderId}:label:${carrier}:${round}`, 'CarrierBooked', {
          carrier,
          labelId: label.labelId,
          trackingNumber: label.trackingNumber,
          pickupDate: label.pickupDate,
        });
        await setOrderState(tx, orderId, { status: 'RUNNING', step: 'book-carrier' });
      });
      await recordAttempt(orderId, carrier, round, 'booked');
      return { ...label, carrier, pickedUp: false };
    },

    /** The carrier takes the parcel; from here on the order can no longer be cancelled. */
    async confirmPickup({ orderId }: { orderId: string }): Promise<{ pickedUpAt: string }> {
      const shipment = await db.shipment.findFirstOrThrow({ where: { orderId, status: { not: 'VOIDED' } } });
      const { pickedUpAt } = await providers.carriers[shipment.carrier as CarrierName].confirmPickup(shipment.labelId);
      await db.$transaction(async (tx) => {
        await lockOrder(tx, orderId);
        await tx.shipment.update({ where: { id: shipment.id }, data: { status: 'PICKED_UP' } });
        await appendEvent(tx, orderId, `${orderId}:picked-up`, 'ParcelPickedUp', {
          carrier: shipment.carrier,
          trackingNumber: shipment.trackingNumber,
          pickedUpAt,
        });
      });
      return { pickedUpAt };
    },

    /** Compensation: void every label the order still holds. Idempotent. */
    async voidLabel({ orderId }: { orderId: string }): Promise<{ voided: number }> {
      const booked = await db.shipment.findMany({ where: { orderId, status: 'BOOKED' } });
      for (const shipment of booked) {
        await providers.carriers[shipment.carrier as CarrierName].voidLabel(shipment.labelId);
        await db.$transaction(async (tx) => {
          await lockOrder(tx, orderId);
          await tx.shipment.update({ where: { id: shipment.id }, data: { status: 'VOIDED', voidedAt: new Date() } });
          await appendEvent(tx, orderId, `${orderId}:label-voided:${shipment.labelId}`, 'LabelVoided', {
            carrier: shipment.carrier,
            labelId: shipment.labelId,
          });
        });
      }
      return { voided: booked.length };
    },
  };
}

import { Context } from '@temporalio/activity';
import { ProviderUnavailableError } from '../providers/errors';
import type { Label, RecordedLabel } from '../providers/types';
import type { CarrierName, OrderProgress, ShipmentView } from '../workflows/definitions';
import { appendEvent, lockOrder, recordEvent, type ActivityDeps, type Tx } from './shared';

const CARRIERS: CarrierName[] = ['primary', 'backup'];

/** The shipment row of a label booked by bookCarrier (with `carrier` and `round` of the booking that recorded it). */
function shipmentId(orderId: string, carrier: CarrierName, round: number): string {
  return `shp-${orderId}-${carrier}-${round}`;
}

/**
 * The order's first booking: the primary carrier, round 0. No other booking of the order can have come before it, so
 * no label under another key can be waiting at a carrier: its first attempt books without asking the carriers for
 * orphaned labels, and the sweep after the pickup has nothing to find. A retry still looks first, so a label whose
 * answer was lost is picked up from the carrier's record instead of posting the booking again into the same fault.
 */
function isFirstBooking(carrier: CarrierName, round: number): boolean {
  return carrier === 'primary' && round === 0;
}

/** Shipping context: labels from the primary or the backup carrier, and the hand-over. */
export function createShippingActivities({ db, providers }: ActivityDeps) {
  /** Record one booking attempt (in the booking's transaction when there is one). */
  async function recordAttempt(
    orderId: string,
    carrier: CarrierName,
    round: number,
    outcome: string,
    client: Pick<Tx, '$executeRaw'> = db,
    error: string | null = null,
  ) {
    const attempt = Context.current().info.attempt;
    await client.$executeRaw`
      INSERT INTO shipment_attempts (id, order_id, carrier, attempt, outcome, error)
      VALUES (${`${orderId}:${carrier}:${round}:${attempt}`}, ${orderId}, ${carrier}, ${attempt}, ${outcome}, ${error})
      ON CONFLICT (id) DO UPDATE SET outcome = EXCLUDED.outcome, error = EXCLUDED.error`;
  }

  /**
   * Labels the carriers hold for the order that are still BOOKED: a booking whose answer was lost leaves one there
   * that we never recorded. `strict` carriers must answer; the others are asked on a best-effort basis (a carrier
   * in an outage must not block the fallback to the other one).
   */
  async function bookedAtCarriers(orderId: string, strict: CarrierName[]): Promise<RecordedLabel[]> {
    const found: RecordedLabel[] = [];
    for (const carrier of CARRIERS) {
      try {
        found.push(...(await providers.carriers[carrier].findLabels(orderId)).filter((l) => l.status === 'BOOKED'));
      } catch (error) {
        if (strict.includes(carrier)) throw error;
        Context.current().log.warn('carrier lookup failed; going on without it', { orderId, carrier, error });
      }
    }
    return found;
  }

  /** Void a label at its carrier and record that (a shipment row, created if the booking was never recorded). */
  async function voidAndRecord(orderId: string, label: Label): Promise<void> {
    await providers.carriers[label.carrier].voidLabel(label.labelId);
    await db.$transaction(async (tx) => {
      await lockOrder(tx, orderId);
      await tx.shipment.upsert({
        where: { carrier_labelId: { carrier: label.carrier, labelId: label.labelId } },
        create: {
          id: `shp-${orderId}-${label.carrier}-${label.labelId}`,
          orderId,
          carrier: label.carrier,
          labelId: label.labelId,
          trackingNumber: label.trackingNumber,
          pickupDate: new Date(label.pickupDate),
          status: 'VOIDED',
          voidedAt: new Date(),
        },
        update: { status: 'VOIDED', voidedAt: new Date() },
      });
      await appendEvent(tx, orderId, `${orderId}:label-voided:${label.labelId}`, 'LabelVoided', {
        carrier: label.carrier,
        labelId: label.labelId,
      });
    });
  }

  return {
    /**
     * Book a label with one carrier. Every attempt, failed or not, is recorded. An order never
     * holds two active labels: an existing one is returned (and a partial unique index enforces it).
     * That includes a label a carrier booked whose answer never reached us (every attempt of an earlier
     * carrier or round lost its answer): it is found by the carrier's lookup by order and adopted, instead of
     * booking a second one elsewhere.
     */
    async bookCarrier({
      orderId,
      carrier,
      round,
      progress,
    }: {
      orderId: string;
      carrier: CarrierName;
      round: number;
      progress: OrderProgress;
    }): Promise<ShipmentView> {
      // The order's active label if it has one, else what a booking needs: the parcel's weight and the address.
      const [order] = await db.$queryRaw<
        {
          shippingAddress: unknown;
          weightGrams: number | null;
          carrier: CarrierName | null;
          labelId: string | null;
          trackingNumber: string | null;
          pickupDate: Date | null;
          shipmentStatus: string | null;
        }[]
      >`
        SELECT o.shipping_address AS "shippingAddress", pk.weight_grams AS "weightGrams", s.carrier,
               s.label_id AS "labelId", s.tracking_number AS "trackingNumber", s.pickup_date AS "pickupDate",
               s.status AS "shipmentStatus"
        FROM orders o
        LEFT JOIN packages pk ON pk.order_id = o.id
        LEFT JOIN LATERAL (
          SELECT * FROM shipments WHERE order_id = o.id AND status <> 'VOIDED' ORDER BY created_at LIMIT 1
        ) s ON true
        WHERE o.id = ${orderId}`;
      if (!order) throw new Error(`Order ${orderId} is not in the database`);
      if (order.carrier && order.labelId && order.trackingNumber && order.pickupDate) {
        return {
          carrier: order.carrier,
          labelId: order.labelId,
          trackingNumber: order.trackingNumber,
          pickupDate: new Date(order.pickupDate).toISOString(),
          pickedUp: order.shipmentStatus === 'PICKED_UP',
        };
      }
      let label: Label;
      let adopted = false;
      try {
        const firstTry = isFirstBooking(carrier, round) && Context.current().info.attempt === 1;
        const [orphan, ...others] = firstTry ? [] : await bookedAtCarriers(orderId, [carrier]);
        if (orphan) {
          label = {
            carrier: orphan.carrier,
            labelId: orphan.labelId,
            trackingNumber: orphan.trackingNumber,
            pickupDate: orphan.pickupDate,
          };
          // A label at this carrier is under this booking's reference (one per order and carrier): its own earlier
          // attempt, whose answer was lost, not an adoption.
          adopted = orphan.carrier !== carrier;
          // Cannot happen while bookings go through here one at a time; never keep more than one anyway.
          for (const other of others) await voidAndRecord(orderId, other);
        } else {
          label = await providers.carriers[carrier].book({
            orderId,
            weightGrams: order.weightGrams ?? 500,
            address: order.shippingAddress as never,
          });
        }
      } catch (error) {
        await recordAttempt(orderId, carrier, round, 'failed', db, (error as Error).message);
        throw error;
      }
      const booked = label;
      await db.$transaction(async (tx) => {
        await lockOrder(tx, orderId);
        await tx.$executeRaw`
          INSERT INTO shipments (id, order_id, carrier, label_id, tracking_number, pickup_date, status)
          VALUES (${shipmentId(orderId, booked.carrier, round)}, ${orderId}, ${booked.carrier}, ${booked.labelId},
                  ${booked.trackingNumber}, ${new Date(booked.pickupDate)}, 'BOOKED')
          ON CONFLICT (carrier, label_id) DO NOTHING`;
        await recordEvent(
          tx,
          orderId,
          {
            id: `${orderId}:label:${carrier}:${round}`,
            type: 'CarrierBooked',
            data: {
              carrier: booked.carrier,
              labelId: booked.labelId,
              trackingNumber: booked.trackingNumber,
              pickupDate: booked.pickupDate,
              ...(adopted ? { adopted: 'a label booked earlier whose answer was lost' } : {}),
            },
          },
          { progress },
        );
        await recordAttempt(orderId, carrier, round, adopted ? `adopted ${booked.carrier} label` : 'booked', tx);
      });
      return { ...booked, pickedUp: false };
    },

    /** The carrier takes the parcel; from here on the order can no longer be cancelled. */
    async confirmPickup({ orderId }: { orderId: string }): Promise<{ pickedUpAt: string }> {
      const shipment = await db.shipment.findFirstOrThrow({ where: { orderId, status: { not: 'VOIDED' } } });
      if (shipment.status === 'PICKED_UP') {
        // Recorded already (a retry, or a reset run of a shipped order): the carrier is not asked again, so an
        // outage there cannot fail, and compensate, an order whose parcel is long gone.
        const event = await db.orderEvent.findUnique({ where: { eventId: `${orderId}:picked-up` } });
        const recorded = (event?.data as { pickedUpAt?: string } | undefined)?.pickedUpAt;
        return { pickedUpAt: recorded ?? shipment.pickupDate.toISOString() };
      }
      const carrier = providers.carriers[shipment.carrier as CarrierName];
      let pickedUpAt: string;
      try {
        ({ pickedUpAt } = await carrier.confirmPickup(shipment.labelId));
      } catch (error) {
        if (!(error instanceof ProviderUnavailableError)) throw error;
        // The pickup may have happened although its answer was lost: the carrier's own record decides, so a carrier
        // that goes down right after collecting the parcel does not get the shipped order compensated.
        const label = (await carrier.findLabels(orderId).catch(() => [])).find((l) => l.labelId === shipment.labelId);
        if (label?.status !== 'PICKED_UP') throw error;
        pickedUpAt = label.pickedUpAt ?? new Date().toISOString();
      }
      await db.$transaction(async (tx) => {
        await lockOrder(tx, orderId);
        await tx.shipment.update({ where: { id: shipment.id }, data: { status: 'PICKED_UP' } });
        await appendEvent(tx, orderId, `${orderId}:picked-up`, 'ParcelPickedUp', {
          carrier: shipment.carrier,
          trackingNumber: shipment.trackingNumber,
          pickedUpAt,
        });
      });
      // A label left at another carrier by a booking whose answer was lost (one the booking's lookup could not
      // see) is voided now, on a best-effort basis: the parcel is handed over whatever happens to it. Nothing is left
      // to sweep behind a label recorded as the primary's round 0: booked by the first booking, or found at the primary
      // by the backup's lookup in round 0, which voided anything else it found.
      if (shipment.id === shipmentId(orderId, 'primary', 0)) return { pickedUpAt };
      try {
        for (const stray of await bookedAtCarriers(orderId, [])) {
          if (stray.carrier !== shipment.carrier || stray.labelId !== shipment.labelId)
            await voidAndRecord(orderId, stray);
        }
      } catch (error) {
        Context.current().log.warn('could not void a stray label after pickup', { orderId, error });
      }
      return { pickedUpAt };
    },

    /**
     * Compensation: void every label the order still holds - those we recorded, and those the carriers hold for it
     * although their booking answer never reached us. Idempotent.
     */
    async voidLabel({ orderId }: { orderId: string }): Promise<{ voided: number }> {
      const booked = await db.shipment.findMany({ where: { orderId, status: 'BOOKED' } });
      const labels = new Map<string, Label>();
      for (const s of booked) {
        labels.set(`${s.carrier}:${s.labelId}`, {
          carrier: s.carrier as CarrierName,
          labelId: s.labelId,
          trackingNumber: s.trackingNumber,
          pickupDate: s.pickupDate.toISOString(),
        });
      }
      for (const label of await bookedAtCarriers(orderId, CARRIERS))
        labels.set(`${label.carrier}:${label.labelId}`, label);
      for (const label of labels.values()) await voidAndRecord(orderId, label);
      return { voided: labels.size };
    },
  };
}

import type { OrderProgress } from '../workflows/definitions';
import { appendEvent, lockOrder, recordEvent, type ActivityDeps } from './shared';

/** A parcel weighs half a kilo per harvested unit in this farm's packing rules. */
const GRAMS_PER_UNIT = 500;

export function packageId(orderId: string): string {
  return `pk-${orderId}`;
}

/** Packing context: a parcel from what was actually harvested. */
export function createPackingActivities({ db }: ActivityDeps) {
  return {
    async packOrder({
      orderId,
      progress,
    }: {
      orderId: string;
      progress: OrderProgress;
    }): Promise<{ packageId: string; weightGrams: number }> {
      const id = packageId(orderId);
      return db.$transaction(async (tx) => {
        await lockOrder(tx, orderId);
        const lines = await tx.$queryRaw<{ sku: string; harvested: number | null }[]>`
          SELECT sku, harvested_quantity AS harvested FROM order_lines WHERE order_id = ${orderId} ORDER BY sku`;
        const contents = lines
          .filter((line) => (line.harvested ?? 0) > 0)
          .map((line) => ({ sku: line.sku, quantity: line.harvested ?? 0 }));
        const weightGrams = Math.max(1, contents.reduce((sum, item) => sum + item.quantity, 0) * GRAMS_PER_UNIT);
        // A parcel packed already (a retry, a reset run) is left as it is; an unpacked one is packed again.
        const [parcel] = await tx.$queryRaw<{ weightGrams: number; packedNow: boolean }[]>`
          INSERT INTO packages (id, order_id, status, contents, weight_grams)
          VALUES (${id}, ${orderId}, 'PACKED', ${JSON.stringify(contents)}::jsonb, ${weightGrams})
          ON CONFLICT (id) DO UPDATE SET status = 'PACKED', contents = EXCLUDED.contents,
                                         weight_grams = EXCLUDED.weight_grams, updated_at = now()
            WHERE packages.status <> 'PACKED'
          RETURNING weight_grams AS "weightGrams", true AS "packedNow"`;
        if (!parcel) {
          const existing = await tx.package.findUniqueOrThrow({ where: { id }, select: { weightGrams: true } });
          return { packageId: id, weightGrams: existing.weightGrams };
        }
        await recordEvent(
          tx,
          orderId,
          { id: `${orderId}:packed`, type: 'OrderPacked', data: { packageId: id, contents, weightGrams } },
          { progress },
        );
        return { packageId: id, weightGrams };
      });
    },

    /** Compensation: open the parcel again. The produce goes back to stock in cancelHarvest. */
    async unpackOrder({ orderId }: { orderId: string }): Promise<void> {
      const id = packageId(orderId);
      await db.$transaction(async (tx) => {
        await lockOrder(tx, orderId);
        const updated = await tx.package.updateMany({ where: { id, status: 'PACKED' }, data: { status: 'UNPACKED' } });
        if (updated.count > 0)
          await appendEvent(tx, orderId, `${orderId}:unpacked`, 'OrderUnpacked', { packageId: id });
      });
    },
  };
}

import { appendEvent, lockOrder, setOrderState, type ActivityDeps } from './shared';

/** A parcel weighs half a kilo per harvested unit in this farm's packing rules. */
const GRAMS_PER_UNIT = 500;

export function packageId(orderId: string): string {
  return `pk-${orderId}`;
}

/** Packing context: a parcel from what was actually harvested. */
export function createPackingActivities({ db }: ActivityDeps) {
  return {
    async packOrder({ orderId }: { orderId: string }): Promise<{ packageId: string; weightGrams: number }> {
      const id = packageId(orderId);
      return db.$transaction(async (tx) => {
        await lockOrder(tx, orderId);
        const existing = await tx.package.findUnique({ where: { id } });
        if (existing && existing.status === 'PACKED') return { packageId: id, weightGrams: existing.weightGrams };
        const lines = await tx.orderLine.findMany({ where: { orderId }, orderBy: { sku: 'asc' } });
        const contents = lines
          .filter((line) => (line.harvestedQuantity ?? 0) > 0)
          .map((line) => ({ sku: line.sku, quantity: line.harvestedQuantity ?? 0 }));
        const weightGrams = Math.max(1, contents.reduce((sum, item) => sum + item.quantity, 0) * GRAMS_PER_UNIT);
        await tx.package.upsert({
          where: { id },
          create: { id, orderId, status: 'PACKED', contents, weightGrams },
          update: { status: 'PACKED', contents, weightGrams },
        });
        await appendEvent(tx, orderId, `${orderId}:packed`, 'OrderPacked', { packageId: id, contents, weightGrams });
        await setOrderState(tx, orderId, { step: 'pack' });
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

import { TERMINAL_STATUSES, type OrderProgress, type ReservedLine, type StockShortage } from '../workflows/definitions';
import { businessFailure } from '../workflows/failures';
import { appendEvent, lockOrder, recordEvent, type ActivityDeps, type Tx } from './shared';

/**
 * Take the stock of every line, in sku order (so two orders never deadlock each other), each decrement conditional
 * on enough being available. Returns the lines that were short, with what there was of them.
 */
async function takeStock(tx: Tx, lines: readonly { sku: string; quantity: number }[]): Promise<StockShortage[]> {
  const short: { sku: string; quantity: number }[] = [];
  for (const line of lines) {
    const updated = await tx.$executeRaw`
      UPDATE products SET available = available - ${line.quantity}, reserved = reserved + ${line.quantity},
                          updated_at = now()
      WHERE sku = ${line.sku} AND available >= ${line.quantity}`;
    if (updated !== 1) short.push(line);
  }
  if (short.length === 0) return [];
  const rows = await tx.$queryRaw<{ sku: string; available: number }[]>`
    SELECT sku, available FROM products WHERE sku = ANY(${short.map((l) => l.sku)}::text[])`;
  return short.map((line) => ({
    sku: line.sku,
    requested: line.quantity,
    available: rows.find((row) => row.sku === line.sku)?.available ?? 0,
  }));
}

/** Inventory context: promising stock to orders without ever overselling. */
export function createInventoryActivities({ db }: ActivityDeps) {
  return {
    /**
     * Reserve every line of the order or none. Each decrement is conditional
     * (`available >= quantity`) and its row count is checked, so concurrent orders for the last
     * units can never oversell; a CHECK constraint backs this up in the database.
     * Out of stock is a business failure naming every short line (`{ shortages: StockShortage[] }`): it cancels the
     * order, and the caller of `POST /orders` is told at once.
     */
    async reserveInventory({
      orderId,
      progress,
    }: {
      orderId: string;
      progress: OrderProgress;
    }): Promise<ReservedLine[]> {
      return db.$transaction(async (tx) => {
        const order = await lockOrder(tx, orderId);
        const lines = await tx.$queryRaw<(ReservedLine & { alreadyReserved: boolean })[]>`
          SELECT l.sku, l.quantity, l.unit_price_cents AS "unitPriceCents", p.harvest_lead_days AS "harvestLeadDays",
                 p.shelf_life_days AS "shelfLifeDays",
                 EXISTS (SELECT 1 FROM reservations r WHERE r.order_id = l.order_id) AS "alreadyReserved"
          FROM order_lines l JOIN products p ON p.sku = l.sku
          WHERE l.order_id = ${orderId}
          ORDER BY l.sku`;
        if (!lines.some((line) => line.alreadyReserved)) {
          // A finished order that never reserved (out of stock, cancelled first) does not start reserving when a
          // reset run replays it: its outcome is recorded, and the stock may now be promised to others.
          if (TERMINAL_STATUSES.includes(order.status)) {
            throw businessFailure(
              'OrderClosed',
              `Order ${orderId} is already ${order.status}; nothing is reserved for it any more`,
            );
          }
          const shortages = await takeStock(tx, lines);
          if (shortages.length > 0) {
            // Throwing rolls back the decrements made for the other lines: all lines or none.
            const named = shortages.map((s) => `${s.sku} (ordered ${s.requested}, available ${s.available})`);
            throw businessFailure('OutOfStock', `Out of stock: ${named.join(', ')}`, { details: { shortages } });
          }
          await tx.$executeRaw`
            INSERT INTO reservations (order_id, sku, quantity, status)
            SELECT ${orderId}, line.sku, line.quantity, 'ACTIVE'
            FROM unnest(${lines.map((l) => l.sku)}::text[], ${lines.map((l) => l.quantity)}::int[]) AS line (sku, quantity)`;
          await recordEvent(
            tx,
            orderId,
            {
              id: `${orderId}:reserved`,
              type: 'InventoryReserved',
              data: { lines: lines.map((line) => ({ sku: line.sku, quantity: line.quantity })) },
            },
            { progress },
          );
        }
        return lines.map(({ sku, quantity, unitPriceCents, harvestLeadDays, shelfLifeDays }) => ({
          sku,
          quantity,
          unitPriceCents,
          harvestLeadDays,
          shelfLifeDays,
        }));
      });
    },

    /** Compensation: give ACTIVE reservations back to available stock. Idempotent. */
    async releaseReservation({ orderId }: { orderId: string }): Promise<{ released: number }> {
      return db.$transaction(async (tx) => {
        await lockOrder(tx, orderId);
        const active = await tx.reservation.findMany({ where: { orderId, status: 'ACTIVE' }, orderBy: { sku: 'asc' } });
        for (const reservation of active) {
          await tx.$executeRaw`
            UPDATE products SET available = available + ${reservation.quantity},
                                reserved = reserved - ${reservation.quantity}, updated_at = now()
            WHERE sku = ${reservation.sku}`;
          await tx.reservation.update({
            where: { orderId_sku: { orderId, sku: reservation.sku } },
            data: { status: 'RELEASED', settledAt: new Date() },
          });
        }
        if (active.length > 0) {
          await appendEvent(tx, orderId, `${orderId}:reservation-released`, 'ReservationReleased', {
            lines: active.map((r) => ({ sku: r.sku, quantity: r.quantity })),
          });
        }
        return { released: active.length };
      });
    },
  };
}

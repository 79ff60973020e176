import type { Db } from '../db/client';
import type { ReceiptData } from './receipt';

/** The customer's receipt: one renderer for `GET /orders/:id/receipt` and the confirmation e-mail. */
export * from './receipt';

/**
 * An order's receipt data as it stands now, read in one query. Undefined for an unknown order; `receipt` is absent
 * until the order is charged (there is nothing to receipt before that).
 */
export async function loadReceipt(
  db: Db,
  orderId: string,
): Promise<{ status: string; receipt?: ReceiptData } | undefined> {
  const order = await db.order.findUnique({
    where: { id: orderId },
    include: {
      customer: true,
      lines: { orderBy: { sku: 'asc' }, include: { product: true } },
      refunds: { orderBy: { createdAt: 'asc' } },
      shipments: { orderBy: { createdAt: 'asc' } },
    },
  });
  if (!order) return undefined;
  if (order.chargedCents === null) return { status: order.status };
  const shipment = order.shipments.find((s) => s.status !== 'VOIDED') ?? order.shipments.at(-1) ?? null;
  return {
    status: order.status,
    receipt: {
      orderId: order.id,
      status: order.status,
      currency: order.currency,
      createdAt: order.createdAt,
      customer: { name: order.customer.name, email: order.customer.email },
      shippingAddress:
        order.shippingAddress && typeof order.shippingAddress === 'object' && !Array.isArray(order.shippingAddress)
          ? order.shippingAddress
          : {},
      lines: order.lines.map((l) => ({
        sku: l.sku,
        name: l.product.name,
        unit: l.product.unit,
        quantity: l.quantity,
        harvestedQuantity: l.harvestedQuantity,
        unitPriceCents: l.unitPriceCents,
      })),
      chargedCents: order.chargedCents,
      refunds: order.refunds.map((f) => ({ id: f.id, amountCents: f.amountCents, createdAt: f.createdAt })),
      shipment,
    },
  };
}

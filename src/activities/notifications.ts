import { loadReceipt, renderReceipt } from '../receipts';
import { idempotencyKeys, type NotificationKind } from '../workflows/definitions';
import { appendEvent, lockOrder, type ActivityDeps } from './shared';

function money(cents: number, currency: string): string {
  return `${(cents / 100).toFixed(2)} ${currency}`;
}

/** Notifications context: the confirmation with its receipt, or the cancellation notice. */
export function createNotificationActivities({ db, providers }: ActivityDeps) {
  return {
    async notifyCustomer({
      orderId,
      kind,
      reason,
    }: {
      orderId: string;
      kind: NotificationKind;
      reason?: string;
    }): Promise<{ messageId: string }> {
      const idempotencyKey = idempotencyKeys.notification(orderId, kind);
      // Everything the message says, and whether it was sent already, in one round trip.
      const [order] = await db.$queryRaw<
        {
          sentId: string | null;
          currency: string;
          chargedCents: number | null;
          refundedCents: number;
          name: string;
          email: string;
          lines: { name: string; unit: string; quantity: number; harvested: number | null; unitPriceCents: number }[];
          shipment: { carrier: string; trackingNumber: string } | null;
        }[]
      >`
        SELECT n.provider_message_id AS "sentId", o.currency, o.charged_cents AS "chargedCents",
               o.refunded_cents AS "refundedCents", c.name, c.email,
               (SELECT COALESCE(json_agg(json_build_object('name', p.name, 'unit', p.unit, 'quantity', l.quantity,
                                                           'harvested', l.harvested_quantity,
                                                           'unitPriceCents', l.unit_price_cents) ORDER BY l.sku), '[]')
                FROM order_lines l JOIN products p ON p.sku = l.sku WHERE l.order_id = o.id) AS lines,
               (SELECT json_build_object('carrier', s.carrier, 'trackingNumber', s.tracking_number)
                FROM shipments s WHERE s.order_id = o.id AND s.status <> 'VOIDED' LIMIT 1) AS shipment
        FROM orders o
        JOIN customers c ON c.id = o.customer_id
        LEFT JOIN notifications n ON n.idempotency_key = ${idempotencyKey}
        WHERE o.id = ${orderId}`;
      if (!order) throw new Error(`Order ${orderId} is not in the database`);
      if (order.sentId) return { messageId: order.sentId };
      const { shipment } = order;
      const subject =
        kind === 'confirmation'
          ? `Your harvest is on its way (order ${orderId})`
          : `Your order ${orderId} was cancelled`;
      const summary = order.lines
        .map((line) => {
          const qty = line.harvested ?? 0;
          return `${line.name}: ${qty}/${line.quantity} ${line.unit} x ${money(line.unitPriceCents, order.currency)}`;
        })
        .join('\n');
      const body =
        kind === 'confirmation'
          ? `Hello ${order.name},\n\n${summary}\nCharged: ${money(order.chargedCents ?? 0, order.currency)}\n` +
            `Carrier: ${shipment?.carrier ?? '-'}, tracking ${shipment?.trackingNumber ?? '-'}\n`
          : `Hello ${order.name},\n\nYour order was cancelled: ${reason ?? 'no reason given'}.\n` +
            (order.refundedCents > 0 ? `Refunded: ${money(order.refundedCents, order.currency)}\n` : '');
      // The confirmation carries the receipt the API serves at GET /orders/:id/receipt, as its HTML body.
      const receipt = kind === 'confirmation' ? (await loadReceipt(db, orderId))?.receipt : undefined;
      const { messageId } = await providers.notifications.send({
        orderId,
        kind,
        to: order.email,
        subject,
        text: body,
        ...(receipt ? { html: renderReceipt(receipt) } : {}),
      });
      await db.$transaction(async (tx) => {
        await lockOrder(tx, orderId);
        await tx.notification.upsert({
          where: { idempotencyKey },
          create: {
            id: `ntf-${orderId}-${kind}`,
            orderId,
            kind,
            channel: 'email',
            recipient: order.email,
            idempotencyKey,
            providerMessageId: messageId,
            status: 'SENT',
          },
          update: { providerMessageId: messageId, status: 'SENT' },
        });
        await appendEvent(tx, orderId, `${orderId}:notified:${kind}`, 'CustomerNotified', { kind, messageId });
      });
      return { messageId };
    },
  };
}

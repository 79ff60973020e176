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
      const sent = await db.notification.findUnique({ where: { idempotencyKey } });
      if (sent?.providerMessageId) return { messageId: sent.providerMessageId };
      const order = await db.order.findUniqueOrThrow({
        where: { id: orderId },
        include: { customer: true, lines: { include: { product: true } }, shipments: true },
      });
      const shipment = order.shipments.find((s) => s.status !== 'VOIDED');
      const subject =
        kind === 'confirmation'
          ? `Your harvest is on its way (order ${orderId})`
          : `Your order ${orderId} was cancelled`;
      const receipt = order.lines
        .map((line) => {
          const qty = line.harvestedQuantity ?? 0;
          return `${line.product.name}: ${qty}/${line.quantity} ${line.product.unit} x ${money(line.unitPriceCents, order.currency)}`;
        })
        .join('\n');
      const body =
        kind === 'confirmation'
          ? `Hello ${order.customer.name},\n\n${receipt}\nCharged: ${money(order.chargedCents ?? 0, order.currency)}\n` +
            `Carrier: ${shipment?.carrier ?? '-'}, tracking ${shipment?.trackingNumber ?? '-'}\n`
          : `Hello ${order.customer.name},\n\nYour order was cancelled: ${reason ?? 'no reason given'}.\n` +
            (order.refundedCents > 0 ? `Refunded: ${money(order.refundedCents, order.currency)}\n` : '');
      const { messageId } = await providers.notifications.send({
        idempotencyKey,
        orderId,
        channel: 'email',
        to: order.customer.email,
        subject,
        body,
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
            recipient: order.customer.email,
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

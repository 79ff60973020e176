import { ApplicationFailure } from '@temporalio/common';
import type { ProviderRefusalDetail } from '../providers/errors';
import { idempotencyKeys, type OrderProgress } from '../workflows/definitions';
import { businessFailure } from '../workflows/failures';
import { appendEvent, lockOrder, recordEvent, type ActivityDeps } from './shared';

/** The card's decline code (e.g. `insufficient_funds`) a PaymentDeclined failure carries, else its message. */
function declineCode(error: ApplicationFailure): string {
  const detail = error.details?.[0] as ProviderRefusalDetail | undefined;
  return detail?.declineCode ?? error.message;
}

/** Payments context: charge for what was harvested, refund on compensation. */
export function createPaymentActivities({ db, providers }: ActivityDeps) {
  return {
    /**
     * Charge the harvested quantities at the prices recorded with the order. The gateway key is
     * `order:<id>:charge`, so a retry after a lost response (or a reset run) gets the first charge
     * back instead of a second one. Declines are non-retryable business failures.
     */
    async chargeOrder({
      orderId,
      progress,
    }: {
      orderId: string;
      progress: OrderProgress;
    }): Promise<{ chargeId: string; amountCents: number; currency: string }> {
      const idempotencyKey = idempotencyKeys.charge(orderId);
      // The order, its amount (the harvested quantities at the recorded prices) and any payment recorded for it.
      const [order] = await db.$queryRaw<
        {
          customerId: string;
          currency: string;
          paymentMethod: string;
          amountCents: number;
          paymentStatus: string | null;
          chargeId: string | null;
          paidCents: number | null;
          paidCurrency: string | null;
        }[]
      >`
        SELECT o.customer_id AS "customerId", o.currency, o.payment_method AS "paymentMethod",
               (SELECT COALESCE(SUM(COALESCE(l.harvested_quantity, 0) * l.unit_price_cents), 0)::int
                FROM order_lines l WHERE l.order_id = o.id) AS "amountCents",
               p.status AS "paymentStatus", p.provider_charge_id AS "chargeId", p.amount_cents AS "paidCents",
               p.currency AS "paidCurrency"
        FROM orders o LEFT JOIN payments p ON p.idempotency_key = ${idempotencyKey}
        WHERE o.id = ${orderId}`;
      if (!order) {
        throw businessFailure('OrderNotRecorded', `Order ${orderId} is not in the database`);
      }
      if (order.paymentStatus === 'SUCCEEDED' && order.chargeId) {
        return { chargeId: order.chargeId, amountCents: order.paidCents ?? 0, currency: order.paidCurrency ?? '' };
      }
      if (order.paymentStatus === 'REFUNDED') {
        // A reset run replaying a refunded order: the gateway would hand back the original charge, money that is
        // already returned. Never ship on it.
        throw businessFailure('OrderClosed', `Order ${orderId} was charged and refunded already`);
      }
      const { amountCents } = order;
      if (amountCents <= 0) {
        throw businessFailure('NothingToCharge', 'Nothing was harvested');
      }
      try {
        const charge = await providers.payments.charge({
          idempotencyKey,
          orderId,
          customerId: order.customerId,
          amountCents,
          currency: order.currency,
          paymentMethod: order.paymentMethod,
        });
        await db.$transaction(async (tx) => {
          await lockOrder(tx, orderId);
          await tx.$executeRaw`
            INSERT INTO payments (id, order_id, idempotency_key, provider_charge_id, amount_cents, currency, status)
            VALUES (${`pay-${orderId}`}, ${orderId}, ${idempotencyKey}, ${charge.chargeId}, ${charge.amountCents},
                    ${charge.currency}, 'SUCCEEDED')
            ON CONFLICT (idempotency_key) DO UPDATE SET provider_charge_id = EXCLUDED.provider_charge_id,
              amount_cents = EXCLUDED.amount_cents, status = 'SUCCEEDED', failure_code = NULL`;
          await recordEvent(
            tx,
            orderId,
            {
              id: `${orderId}:charged`,
              type: 'PaymentCaptured',
              data: { chargeId: charge.chargeId, amountCents: charge.amountCents },
            },
            { progress, chargedCents: charge.amountCents },
          );
        });
        return charge;
      } catch (error) {
        if (error instanceof ApplicationFailure && error.type === 'PaymentDeclined') {
          await db.$transaction(async (tx) => {
            await lockOrder(tx, orderId);
            await tx.payment.upsert({
              where: { idempotencyKey },
              create: {
                id: `pay-${orderId}`,
                orderId,
                idempotencyKey,
                amountCents,
                currency: order.currency,
                status: 'DECLINED',
                failureCode: declineCode(error),
              },
              update: { status: 'DECLINED', failureCode: declineCode(error) },
            });
            await appendEvent(tx, orderId, `${orderId}:payment-declined`, 'PaymentDeclined', { reason: error.message });
          });
        }
        throw error;
      }
    },

    /**
     * Compensation: refund a captured charge in full, key `order:<id>:refund`. Idempotent.
     *
     * Without a recorded payment the gateway is asked before concluding there is nothing to refund: a charge can
     * succeed there while every answer is lost (retries exhausted, or the order cancelled while an attempt's answer
     * was in flight), and that money must go back too.
     */
    async refundOrder({ orderId }: { orderId: string }): Promise<{ refundedCents: number }> {
      const chargeKey = idempotencyKeys.charge(orderId);
      let payment = await db.payment.findUnique({ where: { idempotencyKey: chargeKey } });
      if (payment?.status === 'DECLINED') return { refundedCents: 0 };
      if (!payment || !payment.providerChargeId || (payment.status !== 'SUCCEEDED' && payment.status !== 'REFUNDED')) {
        // The gateway's lookup by order (Stripe: search by the intent's orderId metadata); one key per order, so at
        // most one intent of the order can have succeeded.
        const charged = (await providers.payments.findCharges(orderId)).find((c) => c.status === 'succeeded');
        if (!charged) return { refundedCents: 0 };
        payment = await db.$transaction(async (tx) => {
          await lockOrder(tx, orderId);
          const recorded = await tx.payment.upsert({
            where: { idempotencyKey: chargeKey },
            create: {
              id: `pay-${orderId}`,
              orderId,
              idempotencyKey: chargeKey,
              providerChargeId: charged.chargeId,
              amountCents: charged.amountCents,
              currency: charged.currency,
              status: 'SUCCEEDED',
            },
            update: { providerChargeId: charged.chargeId, amountCents: charged.amountCents, status: 'SUCCEEDED' },
          });
          await tx.order.update({ where: { id: orderId }, data: { chargedCents: charged.amountCents } });
          await appendEvent(tx, orderId, `${orderId}:charged`, 'PaymentCaptured', {
            chargeId: charged.chargeId,
            amountCents: charged.amountCents,
            foundAtGateway: true,
          });
          return recorded;
        });
      }
      const chargeId = payment.providerChargeId;
      if (!chargeId) return { refundedCents: 0 };
      const idempotencyKey = idempotencyKeys.refund(orderId);
      const existing = await db.refund.findUnique({ where: { idempotencyKey } });
      if (existing) return { refundedCents: existing.amountCents };
      const refund = await providers.payments.refund({
        idempotencyKey,
        orderId,
        chargeId,
        amountCents: payment.amountCents,
      });
      await db.$transaction(async (tx) => {
        await lockOrder(tx, orderId);
        await tx.refund.upsert({
          where: { idempotencyKey },
          create: {
            id: `ref-${orderId}`,
            orderId,
            paymentId: payment.id,
            idempotencyKey,
            providerRefundId: refund.refundId,
            amountCents: refund.amountCents,
          },
          update: {},
        });
        await tx.payment.update({ where: { id: payment.id }, data: { status: 'REFUNDED' } });
        await tx.order.update({ where: { id: orderId }, data: { refundedCents: refund.amountCents } });
        await appendEvent(tx, orderId, `${orderId}:refunded`, 'PaymentRefunded', {
          refundId: refund.refundId,
          amountCents: refund.amountCents,
        });
      });
      return { refundedCents: refund.amountCents };
    },
  };
}

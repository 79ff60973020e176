import { ApplicationFailure } from '@temporalio/common';
import { idempotencyKeys } from '../workflows/definitions';
import { appendEvent, lockOrder, setOrderState, type ActivityDeps } from './shared';

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
    }: {
      orderId: string;
    }): Promise<{ chargeId: string; amountCents: number; currency: string }> {
      const idempotencyKey = idempotencyKeys.charge(orderId);
      const recorded = await db.payment.findUnique({ where: { idempotencyKey } });
      if (recorded?.status === 'SUCCEEDED' && recorded.providerChargeId) {
        return { chargeId: recorded.providerChargeId, amountCents: recorded.amountCents, currency: recorded.currency };
      }
      if (recorded?.status === 'REFUNDED') {
        // A reset run replaying a refunded order: the gateway would hand back the original charge, money that is
        // already returned. Never ship on it.
        throw ApplicationFailure.create({
          type: 'OrderClosed',
          message: `Order ${orderId} was charged and refunded already`,
          nonRetryable: true,
        });
      }
      const order = await db.order.findUniqueOrThrow({ where: { id: orderId }, include: { lines: true } });
      const amountCents = order.lines.reduce(
        (sum, line) => sum + (line.harvestedQuantity ?? 0) * line.unitPriceCents,
        0,
      );
      if (amountCents <= 0) {
        throw ApplicationFailure.create({
          type: 'NothingToCharge',
          message: 'Nothing was harvested',
          nonRetryable: true,
        });
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
          await tx.payment.upsert({
            where: { idempotencyKey },
            create: {
              id: `pay-${orderId}`,
              orderId,
              idempotencyKey,
              providerChargeId: charge.chargeId,
              amountCents: charge.amountCents,
              currency: charge.currency,
              status: 'SUCCEEDED',
            },
            update: {
              providerChargeId: charge.chargeId,
              amountCents: charge.amountCents,
              status: 'SUCCEEDED',
              failureCode: null,
            },
          });
          await tx.order.update({ where: { id: orderId }, data: { chargedCents: charge.amountCents } });
          await appendEvent(tx, orderId, `${orderId}:charged`, 'PaymentCaptured', {
            chargeId: charge.chargeId,
            amountCents: charge.amountCents,
          });
          await setOrderState(tx, orderId, { step: 'charge' });
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
                failureCode: error.message,
              },
              update: { status: 'DECLINED', failureCode: error.message },
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
        const charged = (await providers.payments.findCharges(orderId)).find(
          (c) => c.idempotencyKey === chargeKey && c.status === 'succeeded',
        );
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

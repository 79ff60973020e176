import { ApplicationFailure } from '@temporalio/common';
import type { OrderInput, OrderStatus, OrderStep } from '../workflows/definitions';
import { appendEvent, lockOrder, setOrderState, type ActivityDeps } from './shared';

/** Orders context: the order record itself and its audit trail. */
export function createOrderActivities({ db }: ActivityDeps) {
  return {
    /**
     * The workflow's first step: Temporal is the outbox, so the order row is written here rather
     * than by the API. Idempotent: a retry or a reset finds the row and leaves it. Returns the row's
     * status, so a reset run of a finished order knows that it is one.
     */
    async recordOrder(input: OrderInput): Promise<{ totalCents: number; status: OrderStatus }> {
      return db.$transaction(async (tx) => {
        const skus = input.lines.map((line) => line.sku);
        const products = await tx.product.findMany({ where: { sku: { in: skus } } });
        const missing = skus.filter((sku) => !products.some((p) => p.sku === sku));
        if (missing.length > 0) {
          throw ApplicationFailure.create({
            type: 'UnknownProduct',
            message: `Unknown SKU(s): ${missing.join(', ')}`,
            nonRetryable: true,
          });
        }
        const customer = await tx.customer.findUnique({ where: { id: input.customerId } });
        if (!customer) {
          throw ApplicationFailure.create({
            type: 'UnknownCustomer',
            message: `Unknown customer ${input.customerId}`,
            nonRetryable: true,
          });
        }
        const price = new Map(products.map((p) => [p.sku, p.priceCents]));
        const inserted = await tx.$executeRaw`
          INSERT INTO orders (id, customer_id, workflow_id, request_hash, status, step, accept_partial, currency,
                              payment_method, shipping_address, created_at)
          VALUES (${input.orderId}, ${input.customerId}, ${`order-${input.orderId}`}, ${input.requestHash}, 'RUNNING',
                  'received', ${input.acceptPartial}, ${input.currency}, ${input.paymentMethod},
                  ${JSON.stringify(input.shippingAddress)}::jsonb, ${new Date(input.submittedAt)})
          ON CONFLICT (id) DO NOTHING`;
        if (inserted > 0) {
          await tx.orderLine.createMany({
            data: input.lines.map((line) => ({
              orderId: input.orderId,
              sku: line.sku,
              quantity: line.quantity,
              unitPriceCents: price.get(line.sku) ?? 0,
            })),
          });
        }
        await lockOrder(tx, input.orderId);
        await appendEvent(tx, input.orderId, `${input.orderId}:received`, 'OrderReceived', {
          customerId: input.customerId,
          lines: input.lines,
          acceptPartial: input.acceptPartial,
        });
        const lines = await tx.orderLine.findMany({ where: { orderId: input.orderId } });
        const { status } = await tx.order.findUniqueOrThrow({ where: { id: input.orderId }, select: { status: true } });
        return {
          totalCents: lines.reduce((sum, line) => sum + line.quantity * line.unitPriceCents, 0),
          status: status as OrderStatus,
        };
      });
    },

    /**
     * Move the read model and append an event in one transaction. `eventKey` makes the event
     * idempotent: the same key from a retried activity is recorded once.
     */
    async markOrder(change: {
      orderId: string;
      status?: OrderStatus;
      step?: OrderStep;
      reason?: string | null;
      eventKey: string;
      eventType: string;
      data?: Record<string, unknown>;
    }): Promise<void> {
      await db.$transaction(async (tx) => {
        await lockOrder(tx, change.orderId);
        await appendEvent(tx, change.orderId, `${change.orderId}:${change.eventKey}`, change.eventType, change.data);
        // Terminal states are written last and guarded, so a late non-terminal update never overwrites them.
        await setOrderState(tx, change.orderId, { status: change.status, step: change.step, reason: change.reason });
      });
    },
  };
}

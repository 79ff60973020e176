import { ApplicationFailure } from '@temporalio/common';
import type { OrderInput, OrderStatus, OrderStep } from '../workflows/definitions';
import { lockOrder, recordEvent, type ActivityDeps } from './shared';

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
        const [known] = await tx.$queryRaw<{ customer: boolean; skus: string[] | null }[]>`
          SELECT EXISTS (SELECT 1 FROM customers WHERE id = ${input.customerId}) AS customer,
                 (SELECT array_agg(sku) FROM products WHERE sku = ANY(${skus}::text[])) AS skus`;
        const missing = skus.filter((sku) => !known?.skus?.includes(sku));
        if (missing.length > 0) {
          throw ApplicationFailure.create({
            type: 'UnknownProduct',
            message: `Unknown SKU(s): ${missing.join(', ')}`,
            nonRetryable: true,
          });
        }
        if (!known?.customer) {
          throw ApplicationFailure.create({
            type: 'UnknownCustomer',
            message: `Unknown customer ${input.customerId}`,
            nonRetryable: true,
          });
        }
        const inserted = await tx.$executeRaw`
          INSERT INTO orders (id, customer_id, workflow_id, request_hash, status, step, accept_partial, currency,
                              payment_method, shipping_address, created_at)
          VALUES (${input.orderId}, ${input.customerId}, ${`order-${input.orderId}`}, ${input.requestHash}, 'RUNNING',
                  'received', ${input.acceptPartial}, ${input.currency}, ${input.paymentMethod},
                  ${JSON.stringify(input.shippingAddress)}::jsonb, ${new Date(input.submittedAt)})
          ON CONFLICT (id) DO NOTHING`;
        if (inserted > 0) {
          // Each line at the product's price of this moment: what the customer is charged per harvested unit.
          await tx.$executeRaw`
            INSERT INTO order_lines (order_id, sku, quantity, unit_price_cents)
            SELECT ${input.orderId}, line.sku, line.quantity, p.price_cents
            FROM unnest(${skus}::text[], ${input.lines.map((line) => line.quantity)}::int[]) AS line (sku, quantity)
            JOIN products p ON p.sku = line.sku`;
        }
        const { status } = await lockOrder(tx, input.orderId);
        await recordEvent(tx, input.orderId, {
          id: `${input.orderId}:received`,
          type: 'OrderReceived',
          data: { customerId: input.customerId, lines: input.lines, acceptPartial: input.acceptPartial },
        });
        const [total] = await tx.$queryRaw<{ cents: number }[]>`
          SELECT COALESCE(SUM(quantity * unit_price_cents), 0)::int AS cents FROM order_lines
          WHERE order_id = ${input.orderId}`;
        return { totalCents: total?.cents ?? 0, status };
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
        // Terminal states are guarded, so a late non-terminal update never overwrites them.
        const { orderId, status, step, reason } = change;
        await recordEvent(
          tx,
          orderId,
          { id: `${orderId}:${change.eventKey}`, type: change.eventType, data: change.data },
          { status, step, reason },
        );
      });
    },
  };
}

import { orderWorkflowId, type OrderInput, type OrderProgress, type OrderStatus } from '../workflows/definitions';
import { businessFailure } from '../workflows/failures';
import { lockOrder, recordEvent, type ActivityDeps } from './shared';

/** Orders context: the order record itself and its audit trail. */
export function createOrderActivities({ db }: ActivityDeps) {
  return {
    /**
     * The workflow's first step: Temporal is the outbox, so the order row is written here rather
     * than by the API, with the progress the workflow hands it. Idempotent: a retry or a reset finds the row and
     * leaves it. Returns the row's status, so a reset run of a finished order knows that it is one.
     */
    async recordOrder({
      order: input,
      progress,
    }: {
      order: OrderInput;
      progress: OrderProgress;
    }): Promise<{ totalCents: number; status: OrderStatus }> {
      return db.$transaction(async (tx) => {
        const skus = input.lines.map((line) => line.sku);
        const [known] = await tx.$queryRaw<{ customer: boolean; skus: string[] | null }[]>`
          SELECT EXISTS (SELECT 1 FROM customers WHERE id = ${input.customerId}) AS customer,
                 (SELECT array_agg(sku) FROM products WHERE sku = ANY(${skus}::text[])) AS skus`;
        const missing = skus.filter((sku) => !known?.skus?.includes(sku));
        if (missing.length > 0) {
          throw businessFailure('UnknownProduct', `Unknown SKU(s): ${missing.join(', ')}`, {
            details: { skus: missing },
          });
        }
        if (!known?.customer) {
          throw businessFailure('UnknownCustomer', `Unknown customer ${input.customerId}`);
        }
        const inserted = await tx.$executeRaw`
          INSERT INTO orders (id, customer_id, workflow_id, request_hash, status, step, accept_partial, currency,
                              payment_method, shipping_address, created_at)
          VALUES (${input.orderId}, ${input.customerId}, ${orderWorkflowId(input.orderId)}, ${input.requestHash},
                  ${progress.status}, ${progress.step}, ${input.acceptPartial}, ${input.currency}, ${input.paymentMethod},
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
     * Append an event to the audit trail and record the progress the workflow hands over, in one transaction.
     * `event.key` makes the event idempotent: the same key from a retried activity is recorded once.
     */
    async markOrder({
      orderId,
      progress,
      event,
    }: {
      orderId: string;
      progress: OrderProgress;
      event: { key: string; type: string; data?: Record<string, unknown> };
    }): Promise<void> {
      await db.$transaction(async (tx) => {
        await lockOrder(tx, orderId);
        await recordEvent(
          tx,
          orderId,
          { id: `${orderId}:${event.key}`, type: event.type, data: event.data },
          { progress },
        );
      });
    },
  };
}

import { z } from 'zod';
import { ORDER_STEPS, type OrderStatus } from '../../workflows/definitions';
import {
  customerIdSchema,
  isoInstantQuery,
  noQuery,
  orderIdSchema,
  safeText,
  skuSchema,
  timestampSchema,
  type LinkDoc,
  type RouteDoc,
} from '../common';

/**
 * Limits keep one request from asking for absurd work. Lines naming the same SKU are merged, so
 * one SKU of an order can reach `linesPerOrder * quantityPerLine` units.
 */
export const LIMITS = {
  linesPerOrder: 50,
  quantityPerLine: 1000,
  unitsPerSku: 50 * 1000,
  text: 200,
  pageSize: 100,
  events: 1000,
} as const;

export const ORDER_STATUSES = [
  'RUNNING',
  'AWAITING_HARVEST',
  'NEEDS_ATTENTION',
  'COMPENSATING',
  'COMPLETED',
  'CANCELLED',
  'FAILED',
] as const satisfies readonly OrderStatus[];
// Fails to compile when the workflow gains a status this list does not name.
const _everyStatus: [Exclude<OrderStatus, (typeof ORDER_STATUSES)[number]>] extends [never] ? true : never = true;
void _everyStatus;

const statusSchema = z.enum(ORDER_STATUSES);
const stepSchema = z.enum(['received', ...ORDER_STEPS, 'done']);

export const addressSchema = z
  .object({
    name: safeText(LIMITS.text),
    line1: safeText(LIMITS.text),
    city: safeText(LIMITS.text),
    postalCode: safeText(20),
    country: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code such as US'),
  })
  .strict();

const orderLineSchema = z
  .object({ sku: skuSchema, quantity: z.number().int().min(1).max(LIMITS.quantityPerLine) })
  .strict();

/**
 * Lines naming the same SKU become one line with the summed quantity, in the order first named.
 * "Unique by SKU" is a rule JSON Schema cannot state (`uniqueItems` compares whole items), so
 * rather than refusing what the published document allows, the order means what it says: 2 + 3 is 5.
 */
export function mergeLines<L extends { sku: string; quantity: number }>(lines: readonly L[]): L[] {
  const bySku = new Map<string, L>();
  for (const line of lines) {
    const seen = bySku.get(line.sku);
    bySku.set(line.sku, seen ? { ...seen, quantity: seen.quantity + line.quantity } : { ...line });
  }
  return [...bySku.values()];
}

/**
 * What a customer may send. Prices, status and the owner are not here on purpose: the owner is
 * the API key's customer, prices come from the catalogue, status from the workflow.
 */
export const createOrderSchema = z
  .object({
    lines: z
      .array(orderLineSchema)
      .min(1)
      .max(LIMITS.linesPerOrder)
      .describe('What to order; lines naming the same SKU are added up')
      .transform(mergeLines),
    acceptPartial: z
      .boolean()
      .default(false)
      .describe('Charge for what was harvested when a crop yields short, rather than cancelling'),
    paymentMethod: z
      .string()
      .regex(/^pm_[A-Za-z0-9_]{1,60}$/, 'must be a payment method token such as pm_card_visa')
      .default('pm_card_visa'),
    shippingAddress: addressSchema,
  })
  .strict();
export type CreateOrderBody = z.infer<typeof createOrderSchema>;

export const idempotencyKeySchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{8,64}$/, 'Idempotency-Key must be 8-64 letters, digits, - or _');

export const createOrderHeaders = z
  .object({
    'Idempotency-Key': idempotencyKeySchema
      .optional()
      .describe('Same key and body return the same order; same key with another body is 422'),
  })
  .strict();

export const orderIdParams = z.object({ id: orderIdSchema }).strict();

export const cancelOrderSchema = z.object({ reason: safeText(500, { multiline: true }) }).strict();

export const retryBookingSchema = z.object({ note: safeText(500, { multiline: true }).optional() }).strict();

/**
 * Page position: `<createdAt in ms since 1970>.<orderId>` of the last order on the page. Every
 * string of that form is a position (the next page starts after it), so the pattern is the whole
 * rule; 14 digits reach the year 5138.
 */
export function encodeCursor(createdAt: Date, id: string): string {
  return `${createdAt.getTime()}.${id}`;
}
const cursorSchema = z
  .string()
  .regex(/^\d{1,14}\.[A-Za-z0-9_-]{1,80}$/, 'not a cursor from a previous page')
  .meta({ description: 'nextCursor of the previous page', examples: ['1795334400000.o-1f2e3d4c5b6a'] })
  .transform((s) => {
    const dot = s.indexOf('.');
    return { createdAt: new Date(Number(s.slice(0, dot))), id: s.slice(dot + 1) };
  });

const pageSize = z
  .string()
  .regex(/^(?:[1-9]\d?|100)$/, 'must be an integer from 1 to 100')
  .meta({ description: 'Page size, an integer from 1 to 100 (default 20)', default: '20' })
  .transform(Number)
  .default(20);

/**
 * The filters of a list. `createdFrom` at or after `createdTo` is an empty range (an empty page),
 * not an error: comparing two parameters is beyond what the document can state.
 */
export const listOrdersQuery = z
  .object({
    limit: pageSize,
    cursor: cursorSchema.optional(),
    status: statusSchema.optional().describe('Only orders in this status'),
    customerId: customerIdSchema.optional().describe('Admins only; customers always see their own orders'),
    createdFrom: isoInstantQuery.optional().describe('Orders created at or after (ISO date or date-time)'),
    createdTo: isoInstantQuery.optional().describe('Orders created before (ISO date or date-time)'),
  })
  .strict();
export const customerOrdersQuery = listOrdersQuery.omit({ customerId: true }).strict();
export type ListOrdersQuery = z.output<typeof listOrdersQuery>;

/** Links from a response to the operations of the order whose ID is at `pointer` in its body. */
export function orderLinks(
  pointer: string,
): Record<'getOrder' | 'listOrderEvents' | 'getOrderReceipt' | 'cancelOrder', LinkDoc> {
  const id = { id: `$response.body#${pointer}` };
  return {
    getOrder: { operationId: 'getOrder', parameters: id, description: 'The order' },
    listOrderEvents: { operationId: 'listOrderEvents', parameters: id, description: 'Its audit trail' },
    getOrderReceipt: { operationId: 'getOrderReceipt', parameters: id, description: 'Its receipt, once charged' },
    cancelOrder: { operationId: 'cancelOrder', parameters: id, description: 'Cancel it' },
  };
}
/** From a page of orders: the first order's operations (the others' follow the same way). */
export const firstOrderLinks = orderLinks('/data/0/orderId');

// ---- Responses -------------------------------------------------------------------------------

const lineSchema = z
  .object({
    sku: z.string(),
    quantity: z.number().int(),
    unitPriceCents: z.number().int(),
    harvestedQuantity: z.number().int().nullable(),
  })
  .strict();

const orderLinksSchema = z
  .object({ self: z.string(), events: z.string(), receipt: z.string(), cancel: z.string() })
  .strict();

export const orderAcceptedSchema = z
  .object({
    orderId: z.string(),
    workflowId: z.string(),
    status: z.literal('ACCEPTED').describe('Stock is reserved and the crew has a task; the rest runs on its own'),
    lines: z
      .array(z.object({ sku: z.string(), quantity: z.number().int(), unitPriceCents: z.number().int() }).strict())
      .describe('What is reserved, at the price each harvested unit will be charged'),
    harvestTask: z
      .object({ id: z.string(), dueBy: timestampSchema })
      .strict()
      .describe('The crew’s task and when the harvest is due; the order is cancelled if nobody reports by then'),
    links: orderLinksSchema,
  })
  .strict();

export const orderSummarySchema = z
  .object({
    orderId: z.string(),
    customerId: z.string(),
    status: statusSchema,
    step: stepSchema,
    reason: z.string().nullable(),
    currency: z.string(),
    lines: z.array(z.object({ sku: z.string(), quantity: z.number().int() }).strict()),
    chargedCents: z.number().int().nullable(),
    refundedCents: z.number().int(),
    createdAt: timestampSchema,
    updatedAt: timestampSchema,
    links: z.object({ self: z.string() }).strict(),
  })
  .strict();

export const orderPageSchema = z
  .object({
    data: z.array(orderSummarySchema),
    nextCursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page'),
  })
  .strict();

export const orderViewSchema = z
  .object({
    orderId: z.string(),
    customerId: z.string().optional().describe('Absent until the workflow has recorded the order'),
    status: statusSchema,
    step: stepSchema,
    reason: z.string().optional(),
    acceptPartial: z.boolean().optional(),
    currency: z.string().optional(),
    lines: z.array(lineSchema).optional(),
    chargedCents: z.number().int().nullable(),
    refundedCents: z.number().int(),
    harvestTask: z.object({ id: z.string(), status: z.string(), dueBy: timestampSchema }).strict().nullable(),
    shipment: z
      .object({ carrier: z.string(), trackingNumber: z.string(), pickupDate: timestampSchema, status: z.string() })
      .strict()
      .nullable(),
    trackingNumber: z.string().nullable(),
    createdAt: timestampSchema.optional(),
    updatedAt: timestampSchema.optional(),
    workflow: z
      .object({
        workflowId: z.string(),
        timeline: z
          .array(
            z
              .object({ step: z.string(), state: z.string(), at: timestampSchema, detail: z.string().optional() })
              .strict(),
          )
          .optional(),
        compensations: z
          .array(
            z
              .object({
                name: z.string(),
                state: z.enum(['completed', 'failed']),
                at: timestampSchema,
                error: z.string().optional(),
              })
              .strict(),
          )
          .optional(),
        carrierAttempts: z
          .array(
            z
              .object({
                carrier: z.string(),
                round: z.number().int(),
                outcome: z.enum(['booked', 'failed']),
                detail: z.string().optional(),
              })
              .strict(),
          )
          .optional(),
      })
      .strict()
      .describe('Live view from the workflow’s status query; absent parts mean the workflow is not reachable'),
    links: orderLinksSchema,
  })
  .strict();

export const orderEventsSchema = z
  .object({
    orderId: z.string(),
    data: z.array(
      z
        .object({
          eventId: z.string(),
          eventType: z.string(),
          version: z.number().int(),
          occurredAt: timestampSchema,
          data: z.unknown(),
        })
        .strict(),
    ),
  })
  .strict();

export const cancelAcceptedSchema = z
  .object({
    orderId: z.string(),
    cancelRequested: z.literal(true),
    alreadyCancelling: z.boolean().describe('The order was already being undone; nothing new happens'),
    links: orderLinksSchema,
  })
  .strict();

export const retryAcceptedSchema = z
  .object({ orderId: z.string(), retryRequested: z.literal(true), links: orderLinksSchema })
  .strict();

// ---- Routes ----------------------------------------------------------------------------------

const OWN = 'Customers see only their own orders (others’ are 404); admins see all.';

export const orderRoutes = {
  createOrder: {
    method: 'post',
    path: '/orders',
    operationId: 'createOrder',
    summary: 'Submit an order; one workflow per order reserves, harvests, packs, charges, ships and notifies',
    tag: 'orders',
    access: ['customer'],
    query: noQuery,
    headers: createOrderHeaders,
    body: createOrderSchema,
    description:
      'Starts the order’s workflow and waits for its first decision (update-with-start): the answer says what is ' +
      'reserved and when the harvest is due, or that stock is short. The same Idempotency-Key and body give the ' +
      'same answer, also after the order finished.',
    responses: {
      202: {
        description: 'Reserved; `Location` is the order; `Idempotent-Replayed` tells a repeated request',
        schema: orderAcceptedSchema,
        headers: {
          Location: { description: 'The order: /orders/{orderId}', schema: z.string() },
          'Idempotent-Replayed': {
            description: 'true when this answers a retry of an earlier request with the same key',
            schema: z.enum(['true', 'false']),
          },
        },
        links: orderLinks('/orderId'),
      },
      409: {
        description:
          'Out of stock: `shortages` names each SKU with the quantity asked and available; nothing is reserved',
        problems: ['out-of-stock'],
      },
      422: {
        description: 'Unknown customer or product, or an Idempotency-Key reused with another body',
        problems: ['unknown-customer', 'unknown-product', 'idempotency-key-reused'],
      },
      503: {
        description: 'No answer from the workflow in time; repeat the request with the same key (`Retry-After`)',
        problems: ['order-pending'],
      },
    },
  },
  listOrders: {
    method: 'get',
    path: '/orders',
    operationId: 'listOrders',
    summary: 'Orders, newest first, with cursor pagination and filters',
    description: `${OWN} A customer filtering by another customerId gets 403.`,
    tag: 'orders',
    access: ['customer', 'admin'],
    query: listOrdersQuery,
    responses: { 200: { description: 'One page', schema: orderPageSchema, links: firstOrderLinks } },
  },
  getOrder: {
    method: 'get',
    path: '/orders/:id',
    operationId: 'getOrder',
    summary: 'The order as its workflow recorded it, with the workflow’s live timeline',
    description: OWN,
    tag: 'orders',
    access: ['customer', 'admin'],
    params: orderIdParams,
    query: noQuery,
    responses: {
      200: { description: 'The order', schema: orderViewSchema },
      404: { description: 'No such order, or not yours', problems: ['not-found'] },
    },
  },
  listOrderEvents: {
    method: 'get',
    path: '/orders/:id/events',
    operationId: 'listOrderEvents',
    summary: 'The order’s append-only audit trail, oldest first (by version)',
    description: OWN,
    tag: 'orders',
    access: ['customer', 'admin'],
    params: orderIdParams,
    query: noQuery,
    responses: {
      200: { description: 'Every event of the order', schema: orderEventsSchema },
      404: { description: 'No such order, or not yours', problems: ['not-found'] },
    },
  },
  getOrderReceipt: {
    method: 'get',
    path: '/orders/:id/receipt',
    operationId: 'getOrderReceipt',
    summary: 'HTML receipt once charged: harvested quantities, prices, totals, refunds, carrier and tracking',
    description: OWN,
    tag: 'orders',
    access: ['customer', 'admin'],
    params: orderIdParams,
    query: noQuery,
    responses: {
      200: { description: 'The receipt', contentType: 'text/html', schema: z.string() },
      404: { description: 'No such order, or not yours', problems: ['not-found'] },
      409: { description: 'The order has not been charged (yet)', problems: ['not-charged-yet'] },
    },
  },
  cancelOrder: {
    method: 'post',
    path: '/orders/:id/cancel',
    operationId: 'cancelOrder',
    summary: 'Ask the workflow to cancel: completed steps are undone in reverse',
    description: `${OWN} The workflow decides (a \`cancelOrder\` Update): accepted until the carrier has the parcel, refused after.`,
    tag: 'orders',
    access: ['customer', 'admin'],
    params: orderIdParams,
    query: noQuery,
    body: cancelOrderSchema,
    responses: {
      202: {
        description: 'The workflow accepted the cancel and is undoing the order',
        schema: cancelAcceptedSchema,
        links: { getOrder: orderLinks('/orderId').getOrder },
      },
      404: { description: 'No such order, or not yours', problems: ['not-found'] },
      409: { description: 'Too late to cancel', problems: ['order-finished', 'too-late-to-cancel'] },
    },
  },
  retryCarrierBooking: {
    method: 'post',
    path: '/orders/:id/retry-booking',
    operationId: 'retryCarrierBooking',
    summary: 'Retry the carrier booking of an order parked in NEEDS_ATTENTION (both carriers failed)',
    description: 'The workflow decides (a `retryCarrierBooking` Update): accepted only while the order is parked.',
    tag: 'orders',
    access: ['admin'],
    params: orderIdParams,
    query: noQuery,
    body: retryBookingSchema,
    responses: {
      202: { description: 'The workflow books again, primary carrier first', schema: retryAcceptedSchema },
      404: { description: 'No such order', problems: ['not-found'] },
      409: { description: 'The order is not parked, or has ended', problems: ['not-parked', 'order-finished'] },
    },
  },
} as const satisfies Record<string, RouteDoc>;

import { z } from 'zod';
import { noQuery, safeText, skuSchema, timestampSchema, uniqueArray, type RouteDoc } from '../common';

export const LIMITS = { skusPerQuery: 100, adjustDelta: 100_000, reason: 200 } as const;

/** Days a carrier needs after the harvest; earliestDelivery = today + harvest lead + this. */
export const SHIPPING_DAYS = 1;

export const skuParams = z.object({ sku: skuSchema }).strict();

export const availabilityQuerySchema = z
  .object({
    skus: uniqueArray(skuSchema, { min: 1, max: LIMITS.skusPerQuery }, 'SKU'),
  })
  .strict();

export const adjustStockSchema = z
  .object({
    // Two ranges rather than a refinement, so the document states that 0 is refused.
    delta: z
      .union([z.number().int().min(-LIMITS.adjustDelta).max(-1), z.number().int().min(1).max(LIMITS.adjustDelta)], {
        error: `must be a non-zero integer from -${LIMITS.adjustDelta} to ${LIMITS.adjustDelta}`,
      })
      .describe('Units to add (positive) or remove (negative), not 0; stock never goes below 0'),
    reason: safeText(LIMITS.reason).describe('Why, for the audit trail (stock_adjustments)'),
  })
  .strict();

// ---- Responses -------------------------------------------------------------------------------

export const productSchema = z
  .object({
    sku: z.string(),
    name: z.string(),
    unit: z.string(),
    priceCents: z.number().int(),
    available: z.number().int(),
    reserved: z.number().int(),
    harvestLeadDays: z.number().int(),
    shelfLifeDays: z.number().int(),
  })
  .strict();

export const productListSchema = z.object({ data: z.array(productSchema) }).strict();

export const availabilitySchema = z
  .object({
    sku: z.string(),
    available: z.number().int().describe('What can still be promised'),
    reserved: z.number().int().describe('Promised to open orders, not yet harvested'),
    unit: z.string(),
    harvestLeadDays: z.number().int(),
    earliestDelivery: z.iso
      .date()
      .optional()
      .describe('Earliest delivery date of an order placed now; absent when nothing is available'),
  })
  .strict();

export const availabilityListSchema = z
  .object({
    data: z.array(availabilitySchema).describe('In the order asked'),
    unknown: z.array(z.string()).describe('SKUs that are not in the catalogue'),
  })
  .strict();

export const adjustedProductSchema = productSchema
  .extend({
    adjustment: z
      .object({
        id: z.string(),
        delta: z.number().int(),
        reason: z.string(),
        actor: z.string(),
        createdAt: timestampSchema,
      })
      .strict(),
  })
  .strict();

// ---- Routes ----------------------------------------------------------------------------------

export const productRoutes = {
  listProducts: {
    method: 'get',
    path: '/products',
    operationId: 'listProducts',
    summary: 'The catalogue with available and reserved stock',
    tag: 'products',
    access: 'optional',
    query: noQuery,
    responses: { 200: { description: 'Every product', schema: productListSchema } },
  },
  getAvailability: {
    method: 'get',
    path: '/products/:sku/availability',
    operationId: 'getAvailability',
    summary: 'What can be promised for one SKU, and the earliest delivery date',
    tag: 'products',
    access: 'optional',
    params: skuParams,
    query: noQuery,
    responses: {
      200: { description: 'Availability', schema: availabilitySchema },
      404: { description: 'No such SKU', problems: ['not-found'] },
    },
  },
  queryAvailability: {
    method: 'post',
    path: '/products/availability',
    operationId: 'queryAvailability',
    summary: 'Availability of up to 100 SKUs at once (a read: nothing changes)',
    tag: 'products',
    access: 'optional',
    query: noQuery,
    body: availabilityQuerySchema,
    responses: {
      200: { description: 'Known SKUs’ availability and the unknown ones', schema: availabilityListSchema },
    },
  },
  adjustStock: {
    method: 'post',
    path: '/admin/products/:sku/adjust',
    operationId: 'adjustStock',
    summary: 'Add or remove available stock, recorded in stock_adjustments with the admin as actor',
    description: 'A conditional update: available never goes below 0 (409 insufficient-stock instead).',
    tag: 'admin',
    access: ['admin'],
    params: skuParams,
    query: noQuery,
    body: adjustStockSchema,
    responses: {
      200: {
        description: 'The product after the adjustment',
        schema: adjustedProductSchema,
        links: {
          getAvailability: {
            operationId: 'getAvailability',
            parameters: { sku: '$response.body#/sku' },
            description: 'What can be promised now',
          },
        },
      },
      404: { description: 'No such SKU', problems: ['not-found'] },
      409: {
        description: 'The adjustment would make stock negative (or overflow it)',
        problems: ['insufficient-stock', 'stock-limit'],
      },
    },
  },
} as const satisfies Record<string, RouteDoc>;

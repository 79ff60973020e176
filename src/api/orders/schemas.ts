import { z } from 'zod';

/** Limits keep one request from asking for absurd work. */
export const LIMITS = { linesPerOrder: 50, quantityPerLine: 1000, text: 200 } as const;

const sku = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'must be 1-64 letters, digits, - or _');

export const addressSchema = z
  .object({
    name: z.string().trim().min(1).max(LIMITS.text),
    line1: z.string().trim().min(1).max(LIMITS.text),
    city: z.string().trim().min(1).max(LIMITS.text),
    postalCode: z.string().trim().min(1).max(20),
    country: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code such as US'),
  })
  .strict();

/**
 * What a customer may send. Prices, status and the owner are not here on purpose: the owner is
 * the API key's customer, prices come from the catalogue, status from the workflow.
 */
export const createOrderSchema = z
  .object({
    lines: z
      .array(z.object({ sku, quantity: z.number().int().min(1).max(LIMITS.quantityPerLine) }).strict())
      .min(1)
      .max(LIMITS.linesPerOrder)
      .refine((lines) => new Set(lines.map((l) => l.sku)).size === lines.length, 'each SKU may appear only once'),
    acceptPartial: z.boolean().default(false),
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

export const orderIdParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,80}$/, 'not an order ID') }).strict();

export const cancelOrderSchema = z.object({ reason: z.string().trim().min(1).max(500) }).strict();

import type { Db } from './client';

/** Demo catalogue: lead times and shelf lives differ, so harvest windows differ per order. */
export const DEMO_PRODUCTS = [
  {
    sku: 'TOM-HEIRLOOM',
    name: 'Heirloom tomatoes',
    unit: 'kg',
    priceCents: 650,
    available: 400,
    harvestLeadDays: 2,
    shelfLifeDays: 7,
  },
  {
    sku: 'LET-BUTTER',
    name: 'Butter lettuce',
    unit: 'head',
    priceCents: 250,
    available: 300,
    harvestLeadDays: 1,
    shelfLifeDays: 5,
  },
  {
    sku: 'STR-ALBION',
    name: 'Albion strawberries',
    unit: 'punnet',
    priceCents: 480,
    available: 200,
    harvestLeadDays: 1,
    shelfLifeDays: 3,
  },
  {
    sku: 'POT-YUKON',
    name: 'Yukon Gold potatoes',
    unit: 'kg',
    priceCents: 180,
    available: 1000,
    harvestLeadDays: 5,
    shelfLifeDays: 60,
  },
  {
    sku: 'KAL-LACINATO',
    name: 'Lacinato kale',
    unit: 'bunch',
    priceCents: 320,
    available: 250,
    harvestLeadDays: 1,
    shelfLifeDays: 6,
  },
] as const;

export const DEMO_CUSTOMER = {
  id: 'cust-demo',
  name: 'Dana Demo',
  email: 'dana@example.com',
  phone: '+15550100',
} as const;

/**
 * Create the demo catalogue and customer when missing. Idempotent, and it never resets stock
 * that orders have already moved.
 */
export async function seed(db: Db): Promise<void> {
  for (const product of DEMO_PRODUCTS) {
    await db.product.upsert({ where: { sku: product.sku }, create: product, update: {} });
  }
  await db.customer.upsert({ where: { id: DEMO_CUSTOMER.id }, create: DEMO_CUSTOMER, update: {} });
}

import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import type { Db } from '../../db/client';
import type { Product } from '../../generated/prisma/client';
import { requireRole, type Principal } from '../auth';
import { problems } from '../problem';
import { validate } from '../validate';
import { productRoutes, SHIPPING_DAYS } from './schemas';

const DAY_MS = 24 * 60 * 60 * 1000;
const MAX_INT4 = 2_147_483_647;

function productView(p: Product) {
  return {
    sku: p.sku,
    name: p.name,
    unit: p.unit,
    priceCents: p.priceCents,
    available: p.available,
    reserved: p.reserved,
    harvestLeadDays: p.harvestLeadDays,
    shelfLifeDays: p.shelfLifeDays,
  };
}

function availabilityView(p: Product, now = Date.now()) {
  return {
    sku: p.sku,
    available: p.available,
    reserved: p.reserved,
    unit: p.unit,
    harvestLeadDays: p.harvestLeadDays,
    ...(p.available > 0
      ? { earliestDelivery: new Date(now + (p.harvestLeadDays + SHIPPING_DAYS) * DAY_MS).toISOString().slice(0, 10) }
      : {}),
  };
}

/** The catalogue, what can still be promised, and admins' stock adjustments. */
export function productsRouter({ db }: { db: Db }): Router {
  const router = Router();

  router.get('/products', async (req, res) => {
    validate(req, productRoutes.listProducts);
    const products = await db.product.findMany({ orderBy: { sku: 'asc' } });
    res.json({ data: products.map(productView) });
  });

  router.get('/products/:sku/availability', async (req, res) => {
    const { params } = validate(req, productRoutes.getAvailability);
    const product = await db.product.findUnique({ where: { sku: params.sku } });
    if (!product) throw problems.notFound(`Product ${params.sku}`);
    res.json(availabilityView(product));
  });

  router.post('/products/availability', async (req, res) => {
    const { body } = validate(req, productRoutes.queryAvailability);
    const products = new Map(
      (await db.product.findMany({ where: { sku: { in: body.skus } } })).map((p) => [p.sku, p] as const),
    );
    res.json({
      data: body.skus.flatMap((sku) => {
        const product = products.get(sku);
        return product ? [availabilityView(product)] : [];
      }),
      unknown: body.skus.filter((sku) => !products.has(sku)),
    });
  });

  router.post('/admin/products/:sku/adjust', requireRole('admin'), async (req, res) => {
    const { params, body } = validate(req, productRoutes.adjustStock);
    const actor = (req.principal as Principal).subject;
    const result = await db.$transaction(async (tx) => {
      // Conditional update: one statement, so a concurrent reservation can never drive stock below 0.
      const updated = await tx.$executeRaw`
        UPDATE products SET available = (available::bigint + ${body.delta})::int, updated_at = now()
        WHERE sku = ${params.sku} AND available::bigint + ${body.delta} BETWEEN 0 AND ${MAX_INT4}`;
      if (updated !== 1) {
        const product = await tx.product.findUnique({ where: { sku: params.sku } });
        if (!product) throw problems.notFound(`Product ${params.sku}`);
        if (body.delta < 0) {
          throw problems.conflict(
            'insufficient-stock',
            `Cannot remove ${-body.delta} ${product.unit} of ${params.sku}: only ${product.available} available`,
            { sku: params.sku, available: product.available, delta: body.delta },
          );
        }
        throw problems.conflict('stock-limit', `Stock of ${params.sku} cannot exceed ${MAX_INT4}`, {
          sku: params.sku,
          available: product.available,
          delta: body.delta,
        });
      }
      const adjustment = await tx.stockAdjustment.create({
        data: { id: randomUUID(), sku: params.sku, delta: body.delta, reason: body.reason, actor },
      });
      const product = await tx.product.findUniqueOrThrow({ where: { sku: params.sku } });
      return { product, adjustment };
    });
    const { adjustment } = result;
    res.json({
      ...productView(result.product),
      adjustment: {
        id: adjustment.id,
        delta: adjustment.delta,
        reason: adjustment.reason,
        actor: adjustment.actor,
        createdAt: adjustment.createdAt,
      },
    });
  });

  return router;
}

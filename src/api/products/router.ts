import { Router } from 'express';
import type { Db } from '../../db/client';

/** The catalogue with what can still be promised. */
export function productsRouter({ db }: { db: Db }): Router {
  const router = Router();
  router.get('/products', async (_req, res) => {
    const products = await db.product.findMany({ orderBy: { sku: 'asc' } });
    res.json({
      data: products.map((p) => ({
        sku: p.sku,
        name: p.name,
        unit: p.unit,
        priceCents: p.priceCents,
        available: p.available,
        harvestLeadDays: p.harvestLeadDays,
        shelfLifeDays: p.shelfLifeDays,
      })),
    });
  });
  return router;
}

import { Router } from 'express';
import type { Db } from '../../db/client';
import { requireRole, type Principal } from '../auth';
import { listOrders } from '../orders/router';
import { problems } from '../problem';
import { validate } from '../validate';
import { customerRoutes } from './schemas';

/** Customers: their orders. */
export function customersRouter({ db }: { db: Db }): Router {
  const router = Router();

  router.get('/customers/:id/orders', requireRole('customer', 'admin'), async (req, res) => {
    const principal = req.principal as Principal;
    const { params, query } = validate(req, customerRoutes.listCustomerOrders);
    // Object-level check: another customer's ID looks exactly like a missing one.
    if (principal.role === 'customer' && params.id !== principal.subject) {
      throw problems.notFound(`Customer ${params.id}`);
    }
    const customer = await db.customer.findUnique({ where: { id: params.id }, select: { id: true } });
    if (!customer) throw problems.notFound(`Customer ${params.id}`);
    res.json(await listOrders(db, { ...query, customerId: params.id }));
  });

  return router;
}

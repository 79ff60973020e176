import { z } from 'zod';
import { customerIdSchema, type RouteDoc } from '../common';
import { customerOrdersQuery, firstOrderLinks, orderPageSchema } from '../orders/schemas';

export const customerIdParams = z.object({ id: customerIdSchema }).strict();

export const customerRoutes = {
  listCustomerOrders: {
    method: 'get',
    path: '/customers/:id/orders',
    operationId: 'listCustomerOrders',
    summary: 'One customer’s orders, newest first, with the same paging and filters as GET /orders',
    description: 'A customer may ask only for their own ID (any other is 404); admins for any customer.',
    tag: 'customers',
    access: ['customer', 'admin'],
    params: customerIdParams,
    query: customerOrdersQuery,
    responses: {
      200: { description: 'One page', schema: orderPageSchema, links: firstOrderLinks },
      404: { description: 'No such customer, or not you', problems: ['not-found'] },
    },
  },
} as const satisfies Record<string, RouteDoc>;

import { createHash, randomUUID } from 'node:crypto';
import { Router } from 'express';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Db, Prisma } from '../../db/client';
import {
  cancelOrderSignal,
  orderWorkflowId,
  statusQuery,
  TERMINAL_STATUSES,
  type OrderInput,
  type OrderStatusView,
} from '../../workflows/definitions';
import { orderStartOptions } from '../../lib/order-start';
import { requireRole, type Principal } from '../auth';
import { HttpProblem, problems } from '../problem';
import { validate } from '../validate';
import { HTML_SECURITY_HEADERS, loadReceipt, renderReceipt } from '../../receipts';
import { encodeCursor, LIMITS, orderRoutes, type ListOrdersQuery } from './schemas';

export interface OrdersDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  currency: string;
}

/** Canonical JSON (sorted keys) so the same body always hashes the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.entries(value as Record<string, unknown>)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The order ID for a customer's Idempotency-Key: scoped to the customer, so two customers using
 * the same key never meet, and stable, so a retry finds the same workflow.
 */
export function orderIdFor(customerId: string, idempotencyKey: string | undefined): string {
  if (!idempotencyKey) return `o-${randomUUID()}`;
  return `o-${createHash('sha256').update(`${customerId}\n${idempotencyKey}`).digest('hex').slice(0, 24)}`;
}

async function liveStatus(temporal: Client, orderId: string): Promise<OrderStatusView | undefined> {
  try {
    return await temporal.workflow.getHandle(orderWorkflowId(orderId)).query(statusQuery);
  } catch {
    return undefined;
  }
}

/**
 * One page of orders, newest first. `customerId` is already scoped by the caller (a customer's own
 * ID, or an admin's filter). Keyset pagination on (createdAt, id), so pages never skip or repeat.
 */
export async function listOrders(
  db: Db,
  query: Omit<ListOrdersQuery, 'customerId'> & { customerId?: string },
): Promise<{ data: unknown[]; nextCursor: string | null }> {
  const and: Prisma.OrderWhereInput[] = [];
  if (query.customerId !== undefined) and.push({ customerId: query.customerId });
  if (query.status !== undefined) and.push({ status: query.status });
  if (query.createdFrom) and.push({ createdAt: { gte: query.createdFrom } });
  if (query.createdTo) and.push({ createdAt: { lt: query.createdTo } });
  if (query.cursor) {
    const { createdAt, id } = query.cursor;
    and.push({ OR: [{ createdAt: { lt: createdAt } }, { createdAt, id: { lt: id } }] });
  }
  const rows = await db.order.findMany({
    where: { AND: and },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: query.limit + 1,
    include: { lines: { orderBy: { sku: 'asc' }, select: { sku: true, quantity: true } } },
  });
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    data: page.map((o) => ({
      orderId: o.id,
      customerId: o.customerId,
      status: o.status,
      step: o.step,
      reason: o.outcomeReason,
      currency: o.currency,
      lines: o.lines,
      chargedCents: o.chargedCents,
      refundedCents: o.refundedCents,
      createdAt: o.createdAt,
      updatedAt: o.updatedAt,
      links: { self: `/orders/${o.id}` },
    })),
    nextCursor: rows.length > query.limit && last ? encodeCursor(last.createdAt, last.id) : null,
  };
}

/** Orders: submit, list, read, audit trail, receipt, cancel. */
export function ordersRouter(deps: OrdersDeps): Router {
  const router = Router();
  const { db, temporal } = deps;

  /**
   * Object-level access: the order if the caller may see it, null if it exists only as a workflow
   * that has not recorded its row yet. Others' orders are 404, exactly like missing ones.
   */
  async function authorizeOrder(orderId: string, principal: Principal) {
    const order = await db.order.findUnique({ where: { id: orderId } });
    if (order) {
      if (principal.role === 'customer' && order.customerId !== principal.subject) {
        throw problems.notFound(`Order ${orderId}`);
      }
      return order;
    }
    try {
      // Not recorded yet: the workflow memo names the owner.
      const description = await temporal.workflow.getHandle(orderWorkflowId(orderId)).describe();
      if (principal.role === 'customer' && description.memo?.customerId !== principal.subject) {
        throw problems.notFound(`Order ${orderId}`);
      }
      return null;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw problems.notFound(`Order ${orderId}`);
      throw error;
    }
  }

  async function readOrder(orderId: string, principal: Principal) {
    await authorizeOrder(orderId, principal);
    const [order, live] = await Promise.all([
      db.order.findUnique({
        where: { id: orderId },
        include: {
          lines: { orderBy: { sku: 'asc' } },
          shipments: { orderBy: { createdAt: 'asc' } },
          harvestTask: true,
        },
      }),
      liveStatus(temporal, orderId),
    ]);
    const shipment = order?.shipments.find((s) => s.status !== 'VOIDED') ?? order?.shipments.at(-1);
    return {
      orderId,
      customerId: order?.customerId,
      // While the workflow runs, its live view is the freshest truth; the row is the durable read model.
      status: live?.status ?? order?.status ?? 'RUNNING',
      step: live?.step ?? order?.step ?? 'received',
      reason: live?.reason ?? order?.outcomeReason ?? undefined,
      acceptPartial: order?.acceptPartial,
      currency: order?.currency,
      lines: order?.lines.map((l) => ({
        sku: l.sku,
        quantity: l.quantity,
        unitPriceCents: l.unitPriceCents,
        harvestedQuantity: l.harvestedQuantity,
      })),
      chargedCents: order?.chargedCents ?? null,
      refundedCents: order?.refundedCents ?? 0,
      harvestTask: order?.harvestTask
        ? { id: order.harvestTask.id, status: order.harvestTask.status, dueBy: order.harvestTask.dueBy }
        : null,
      shipment: shipment
        ? {
            carrier: shipment.carrier,
            trackingNumber: shipment.trackingNumber,
            pickupDate: shipment.pickupDate,
            status: shipment.status,
          }
        : null,
      trackingNumber: shipment && shipment.status !== 'VOIDED' ? shipment.trackingNumber : null,
      createdAt: order?.createdAt,
      updatedAt: order?.updatedAt,
      workflow: {
        workflowId: orderWorkflowId(orderId),
        timeline: live?.timeline.map((t) => ({ step: t.step, state: t.state, at: t.at, detail: t.detail })),
        compensations: live?.compensations.map((c) => ({ name: c.name, state: c.state, at: c.at, error: c.error })),
        carrierAttempts: live?.carrierAttempts.map((a) => ({
          carrier: a.carrier,
          round: a.round,
          outcome: a.outcome,
          detail: a.detail,
        })),
      },
      links: {
        self: `/orders/${orderId}`,
        events: `/orders/${orderId}/events`,
        receipt: `/orders/${orderId}/receipt`,
        cancel: `/orders/${orderId}/cancel`,
      },
    };
  }

  router.post('/orders', requireRole('customer'), async (req, res) => {
    const principal = req.principal as Principal;
    const { headers, body } = validate(req, orderRoutes.createOrder);
    const idempotencyKey = headers['Idempotency-Key'];
    const requestHash = createHash('sha256')
      .update(canonical({ customerId: principal.subject, ...body }))
      .digest('hex');
    const orderId = orderIdFor(principal.subject, idempotencyKey);

    const [customer, products] = await Promise.all([
      db.customer.findUnique({ where: { id: principal.subject } }),
      db.product.findMany({ where: { sku: { in: body.lines.map((l) => l.sku) } }, select: { sku: true } }),
    ]);
    if (!customer)
      throw new HttpProblem(
        422,
        'unknown-customer',
        'Unknown customer',
        `Customer ${principal.subject} is not registered`,
      );
    const unknown = body.lines.filter((l) => !products.some((p) => p.sku === l.sku)).map((l) => l.sku);
    if (unknown.length > 0) {
      throw new HttpProblem(422, 'unknown-product', 'Unknown product', `No such SKU: ${unknown.join(', ')}`, {
        skus: unknown,
      });
    }

    const input: OrderInput = {
      orderId,
      customerId: principal.subject,
      lines: body.lines,
      acceptPartial: body.acceptPartial,
      currency: deps.currency,
      paymentMethod: body.paymentMethod,
      shippingAddress: body.shippingAddress,
      requestHash,
      submittedAt: new Date().toISOString(),
    };
    const workflowId = orderWorkflowId(orderId);
    let replayed = false;
    try {
      await temporal.workflow.start('orderFulfillment', orderStartOptions(input, deps.taskQueue));
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      const description = await temporal.workflow.getHandle(workflowId).describe();
      if (description.memo?.requestHash !== requestHash) throw reused(idempotencyKey);
      replayed = true;
    }
    res
      .status(202)
      .location(`/orders/${orderId}`)
      .set('Idempotent-Replayed', String(replayed))
      .json({ orderId, workflowId, status: 'ACCEPTED', links: { self: `/orders/${orderId}` } });
  });

  router.get('/orders', requireRole('customer', 'admin'), async (req, res) => {
    const principal = req.principal as Principal;
    const { query } = validate(req, orderRoutes.listOrders);
    if (principal.role === 'customer' && query.customerId !== undefined && query.customerId !== principal.subject) {
      throw problems.forbidden(principal.role, ['admin'], 'Only admins filter by customerId');
    }
    const customerId = principal.role === 'customer' ? principal.subject : query.customerId;
    res.json(await listOrders(db, { ...query, customerId }));
  });

  router.get('/orders/:id', requireRole('customer', 'admin'), async (req, res) => {
    const { params } = validate(req, orderRoutes.getOrder);
    res.json(await readOrder(params.id, req.principal as Principal));
  });

  router.get('/orders/:id/events', requireRole('customer', 'admin'), async (req, res) => {
    const { params } = validate(req, orderRoutes.listOrderEvents);
    await authorizeOrder(params.id, req.principal as Principal);
    const events = await db.orderEvent.findMany({
      where: { orderId: params.id },
      orderBy: { version: 'asc' },
      take: LIMITS.events,
    });
    res.json({
      orderId: params.id,
      data: events.map((e) => ({
        eventId: e.eventId,
        eventType: e.eventType,
        version: e.version,
        occurredAt: e.occurredAt,
        data: e.data,
      })),
    });
  });

  router.get('/orders/:id/receipt', requireRole('customer', 'admin'), async (req, res) => {
    const { params } = validate(req, orderRoutes.getOrderReceipt);
    const found = await authorizeOrder(params.id, req.principal as Principal);
    const loaded = found ? await loadReceipt(db, params.id) : undefined;
    if (!loaded?.receipt) {
      throw problems.conflict(
        'not-charged-yet',
        `Order ${params.id} has not been charged yet; a receipt follows the charge`,
        {
          orderStatus: loaded?.status ?? 'RUNNING',
        },
      );
    }
    const html = renderReceipt(loaded.receipt);
    res.status(200).set(HTML_SECURITY_HEADERS).type('text/html; charset=utf-8').send(html);
  });

  router.post('/orders/:id/cancel', requireRole('customer', 'admin'), async (req, res) => {
    const { params, body } = validate(req, orderRoutes.cancelOrder);
    const { id } = params;
    const principal = req.principal as Principal;
    const order = await readOrder(id, principal);
    const live = await liveStatus(temporal, id);
    if (!live || TERMINAL_STATUSES.includes(live.status)) {
      throw problems.conflict('order-finished', `Order ${id} is ${order.status}; it can no longer be cancelled`, {
        orderStatus: order.status,
      });
    }
    if (live.shipment?.pickedUp || live.step === 'notify' || live.step === 'done') {
      throw problems.conflict('too-late-to-cancel', `The carrier already has order ${id}'s parcel`, {
        orderStatus: live.status,
      });
    }
    await temporal.workflow
      .getHandle(orderWorkflowId(id))
      .signal(cancelOrderSignal, { reason: body.reason, requestedBy: `${principal.role}:${principal.subject}` });
    res
      .status(202)
      .location(`/orders/${id}`)
      .json({ orderId: id, cancelRequested: true, links: { self: `/orders/${id}` } });
  });

  return router;
}

function reused(idempotencyKey: string | undefined): HttpProblem {
  return new HttpProblem(
    422,
    'idempotency-key-reused',
    'Idempotency-Key reused',
    `Idempotency-Key ${idempotencyKey ?? ''} was already used for a different order body; use a new key for a new order`,
  );
}

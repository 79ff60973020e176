import { createHash, randomUUID } from 'node:crypto';
import { Router } from 'express';
import type { Client } from '@temporalio/client';
import type { Db, Prisma } from '../../db/client';
import { placeOrder } from '../../lib/order-start';
import {
  cancelOrderUpdate,
  orderWorkflowId,
  retryCarrierBookingUpdate,
  statusQuery,
  type OrderAcceptance,
  type OrderInput,
  type OrderStatusView,
} from '../../workflows/definitions';
import { requireRole, type Principal } from '../auth';
import { HttpProblem, problems } from '../problem';
import { isRunClosed, problemFor, rethrowAsProblem } from '../refusals';
import { validate } from '../validate';
import { HTML_SECURITY_HEADERS, loadReceipt, renderReceipt } from '../../receipts';
import { encodeCursor, LIMITS, orderRoutes, type ListOrdersQuery } from './schemas';

export interface OrdersDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  currency: string;
  /** How long `POST /orders` waits for the workflow's answer before saying "pending" (503). */
  acceptTimeoutMs: number;
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

/** The workflow's live view, for the timeline; undefined when the run cannot be asked (ended long ago, or down). */
async function liveView(temporal: Client, orderId: string): Promise<OrderStatusView | undefined> {
  try {
    return await temporal.workflow.getHandle(orderWorkflowId(orderId)).query(statusQuery);
  } catch {
    return undefined;
  }
}

/** Orders: submit, list, read, audit trail, receipt, cancel, retry a parked booking. */
export function ordersRouter(deps: OrdersDeps): Router {
  const router = Router();
  const { db, temporal } = deps;

  /** The order if the caller may see it. Others' orders are 404, exactly like missing ones. */
  async function authorizeOrder(orderId: string, principal: Principal) {
    const order = await db.order.findUnique({ where: { id: orderId } });
    if (!order || (principal.role === 'customer' && order.customerId !== principal.subject)) {
      throw problems.notFound(`Order ${orderId}`);
    }
    return order;
  }

  /**
   * The answer to a repeated `POST /orders` whose run has ended: rebuilt from what the workflow recorded, so it is
   * the answer the first request got (the reservation and the harvest task, or the refusal).
   */
  async function recordedAnswer(orderId: string, requestHash: string, idempotencyKey: string | undefined) {
    const order = await db.order.findUnique({
      where: { id: orderId },
      include: { lines: { orderBy: { sku: 'asc' } }, harvestTask: true },
    });
    if (!order) {
      throw problems.conflict('order-finished', `Order ${orderId} ended before it was recorded`, {});
    }
    if (order.requestHash !== requestHash) throw reused(idempotencyKey);
    const closed = await db.orderEvent.findUnique({ where: { eventId: `${orderId}:closed` } });
    const refusal = (closed?.data as { refusal?: { type: string; message: string; details: unknown[] } } | null)
      ?.refusal;
    if (refusal || !order.harvestTask) {
      throw problemFor(refusal ?? { type: 'OrderFinished', message: `Order ${orderId} ended before it was accepted` }, {
        orderId,
      });
    }
    const acceptance: OrderAcceptance = {
      orderId,
      lines: order.lines.map((l) => ({ sku: l.sku, quantity: l.quantity, unitPriceCents: l.unitPriceCents })),
      harvestTask: { taskId: order.harvestTask.id, dueBy: order.harvestTask.dueBy.toISOString() },
      replayed: true,
    };
    return acceptance;
  }

  async function readOrder(orderId: string, principal: Principal) {
    await authorizeOrder(orderId, principal);
    const [order, live] = await Promise.all([
      db.order.findUniqueOrThrow({
        where: { id: orderId },
        include: {
          lines: { orderBy: { sku: 'asc' } },
          shipments: { orderBy: { createdAt: 'asc' } },
          harvestTask: true,
        },
      }),
      liveView(temporal, orderId),
    ]);
    const shipment = order.shipments.find((s) => s.status !== 'VOIDED') ?? order.shipments.at(-1);
    return {
      orderId,
      customerId: order.customerId,
      // Status, step and reason are what the workflow recorded: it is their only writer.
      status: order.status,
      step: order.step,
      reason: order.outcomeReason ?? undefined,
      acceptPartial: order.acceptPartial,
      currency: order.currency,
      lines: order.lines.map((l) => ({
        sku: l.sku,
        quantity: l.quantity,
        unitPriceCents: l.unitPriceCents,
        harvestedQuantity: l.harvestedQuantity,
      })),
      chargedCents: order.chargedCents ?? null,
      refundedCents: order.refundedCents,
      harvestTask: order.harvestTask
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
      createdAt: order.createdAt,
      updatedAt: order.updatedAt,
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
      links: orderLinks(orderId),
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

    // Input checked against the catalogue before anything starts: bad input never starts a workflow.
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
    const answer = await placeOrder(temporal, input, { taskQueue: deps.taskQueue, timeoutMs: deps.acceptTimeoutMs });
    if (answer.kind === 'refused') {
      throw answer.failure.type === 'IdempotencyKeyReused'
        ? reused(idempotencyKey)
        : problemFor(answer.failure, { orderId });
    }
    if (answer.kind === 'pending') {
      res.set('Retry-After', '1');
      throw new HttpProblem(
        503,
        'order-pending',
        'Order not answered yet',
        idempotencyKey
          ? 'The order is being placed; repeat the request with the same Idempotency-Key for its answer'
          : `The order is being placed; follow it at /orders/${orderId}`,
        { orderId },
      );
    }
    const acceptance =
      answer.kind === 'accepted' ? answer.acceptance : await recordedAnswer(orderId, requestHash, idempotencyKey);
    res
      .status(202)
      .location(`/orders/${orderId}`)
      .set('Idempotent-Replayed', String(acceptance.replayed))
      .json({
        orderId,
        workflowId: orderWorkflowId(orderId),
        status: 'ACCEPTED',
        lines: acceptance.lines,
        harvestTask: { id: acceptance.harvestTask.taskId, dueBy: acceptance.harvestTask.dueBy },
        links: orderLinks(orderId),
      });
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
    const order = await authorizeOrder(id, principal);
    try {
      const outcome = await temporal.workflow.getHandle(orderWorkflowId(id)).executeUpdate(cancelOrderUpdate, {
        args: [{ reason: body.reason, requestedBy: `${principal.role}:${principal.subject}` }],
      });
      res
        .status(202)
        .location(`/orders/${id}`)
        .json({
          orderId: id,
          cancelRequested: true,
          alreadyCancelling: outcome.alreadyCancelling,
          links: orderLinks(id),
        });
    } catch (error) {
      if (isRunClosed(error)) throw finished(id, order.status);
      rethrowAsProblem(error, { orderStatus: order.status });
    }
  });

  router.post('/orders/:id/retry-booking', requireRole('admin'), async (req, res) => {
    const { params, body } = validate(req, orderRoutes.retryCarrierBooking);
    const { id } = params;
    const principal = req.principal as Principal;
    const order = await authorizeOrder(id, principal);
    try {
      await temporal.workflow.getHandle(orderWorkflowId(id)).executeUpdate(retryCarrierBookingUpdate, {
        args: [{ requestedBy: `${principal.role}:${principal.subject}`, ...(body.note ? { note: body.note } : {}) }],
      });
      res
        .status(202)
        .location(`/orders/${id}`)
        .json({ orderId: id, retryRequested: true, links: orderLinks(id) });
    } catch (error) {
      if (isRunClosed(error)) throw finished(id, order.status);
      rethrowAsProblem(error, { orderStatus: order.status });
    }
  });

  return router;
}

/** Where a client goes from an order: the operations on it. */
function orderLinks(orderId: string) {
  return {
    self: `/orders/${orderId}`,
    events: `/orders/${orderId}/events`,
    receipt: `/orders/${orderId}/receipt`,
    cancel: `/orders/${orderId}/cancel`,
  };
}

/** An Update cannot reach a run that has ended: the order is finished. */
function finished(orderId: string, status: string): HttpProblem {
  return problems.conflict('order-finished', `Order ${orderId} is ${status}; it has ended`, { orderStatus: status });
}

function reused(idempotencyKey: string | undefined): HttpProblem {
  return new HttpProblem(
    422,
    'idempotency-key-reused',
    'Idempotency-Key reused',
    `Idempotency-Key ${idempotencyKey ?? ''} was already used for a different order body; use a new key for a new order`,
  );
}

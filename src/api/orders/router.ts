import { createHash, randomUUID } from 'node:crypto';
import { Router } from 'express';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Db } from '../../db/client';
import {
  cancelOrderSignal,
  orderWorkflowId,
  statusQuery,
  TERMINAL_STATUSES,
  type OrderInput,
  type OrderStatusView,
} from '../../workflows/definitions';
import { requireRole, type Principal } from '../auth';
import { HttpProblem, problems } from '../problem';
import {
  cancelOrderSchema,
  createOrderSchema,
  idempotencyKeySchema,
  orderIdParams,
  type CreateOrderBody,
} from './schemas';

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

/** Orders: submit, read, cancel. */
export function ordersRouter(deps: OrdersDeps): Router {
  const router = Router();
  const { db, temporal } = deps;

  async function readOrder(orderId: string, principal: Principal) {
    const order = await db.order.findUnique({
      where: { id: orderId },
      include: { lines: { orderBy: { sku: 'asc' } }, shipments: true, harvestTask: true, payments: true },
    });
    const live = await liveStatus(temporal, orderId);
    if (!order && !live) throw problems.notFound(`Order ${orderId}`);
    if (order && principal.role === 'customer' && order.customerId !== principal.subject)
      throw problems.notFound(`Order ${orderId}`);
    if (!order && principal.role === 'customer') {
      // Not recorded yet: the workflow memo names the owner.
      const description = await temporal.workflow.getHandle(orderWorkflowId(orderId)).describe();
      if (description.memo?.customerId !== principal.subject) throw problems.notFound(`Order ${orderId}`);
    }
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
        timeline: live?.timeline,
        compensations: live?.compensations,
        carrierAttempts: live?.carrierAttempts,
      },
      links: { self: `/orders/${orderId}`, events: `/orders/${orderId}/events`, cancel: `/orders/${orderId}/cancel` },
    };
  }

  router.post('/orders', requireRole('customer'), async (req, res) => {
    const principal = req.principal as Principal;
    const keyHeader = req.header('idempotency-key');
    const idempotencyKey = keyHeader === undefined ? undefined : idempotencyKeySchema.parse(keyHeader);
    const body: CreateOrderBody = createOrderSchema.parse(req.body);
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
      const handle = await temporal.workflow.start('orderFulfillment', {
        taskQueue: deps.taskQueue,
        workflowId,
        args: [input],
        // Same key while running: attach to the running order. Finished orders' IDs are never reused.
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        memo: { requestHash, customerId: principal.subject },
      });
      // USE_EXISTING may have attached us to a run started by an earlier request with this key.
      const description = await handle.describe();
      if (description.memo?.requestHash !== requestHash) throw reused(idempotencyKey);
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

  router.get('/orders/:id', requireRole('customer', 'admin'), async (req, res) => {
    const { id } = orderIdParams.parse(req.params);
    res.json(await readOrder(id, req.principal as Principal));
  });

  router.post('/orders/:id/cancel', requireRole('customer', 'admin'), async (req, res) => {
    const { id } = orderIdParams.parse(req.params);
    const { reason } = cancelOrderSchema.parse(req.body ?? {});
    const principal = req.principal as Principal;
    const order = await readOrder(id, principal);
    const live = await liveStatus(temporal, id);
    if (!live || TERMINAL_STATUSES.includes(live.status)) {
      throw problems.conflict('order-finished', `Order ${id} is ${order.status}; it can no longer be cancelled`, {
        status: order.status,
      });
    }
    if (live.shipment?.pickedUp || live.step === 'notify' || live.step === 'done') {
      throw problems.conflict('too-late-to-cancel', `The carrier already has order ${id}'s parcel`, {
        status: live.status,
      });
    }
    await temporal.workflow
      .getHandle(orderWorkflowId(id))
      .signal(cancelOrderSignal, { reason, requestedBy: `${principal.role}:${principal.subject}` });
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

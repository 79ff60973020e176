import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Db, Prisma } from '../db/client';
import type { Providers } from '../providers/types';
import type { OrderStatus, OrderStep } from '../workflows/definitions';

/** What every activity context receives from the worker. */
export interface ActivityDeps {
  db: Db;
  providers: Providers;
}

export type Tx = Prisma.TransactionClient;

/**
 * Serialise writes to one order: every transaction that appends to the order's event log first
 * locks the order row, so event versions are gap-free and never collide.
 */
export async function lockOrder(tx: Tx, orderId: string): Promise<void> {
  const rows = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM orders WHERE id = ${orderId} FOR UPDATE`;
  if (rows.length === 0) {
    throw ApplicationFailure.create({
      type: 'OrderNotRecorded',
      message: `Order ${orderId} is not in the database`,
      nonRetryable: true,
    });
  }
}

/**
 * Append to the order's audit trail. `eventId` is derived from the order and the step, so a
 * retried activity that already committed appends nothing the second time.
 * Call after lockOrder in the same transaction.
 */
export async function appendEvent(
  tx: Tx,
  orderId: string,
  eventId: string,
  eventType: string,
  data: Record<string, unknown> = {},
): Promise<boolean> {
  const inserted = await tx.$executeRaw`
    INSERT INTO order_events (event_id, order_id, version, event_type, data)
    SELECT ${eventId}, ${orderId}, COALESCE(MAX(version), 0) + 1, ${eventType}, ${JSON.stringify(data)}::jsonb
    FROM order_events WHERE order_id = ${orderId}
    ON CONFLICT (event_id) DO NOTHING`;
  if (inserted > 0) activityLog()?.info('order event recorded', { orderId, eventType, eventId });
  return inserted > 0;
}

/** Move the read model's status and step; never moves a terminal order back. */
export async function setOrderState(
  tx: Tx,
  orderId: string,
  state: { status?: OrderStatus; step?: OrderStep; reason?: string | null },
): Promise<void> {
  await tx.$executeRaw`
    UPDATE orders SET
      status = COALESCE(${state.status ?? null}, status),
      step = COALESCE(${state.step ?? null}, step),
      outcome_reason = CASE WHEN ${state.reason !== undefined} THEN ${state.reason ?? null} ELSE outcome_reason END,
      updated_at = now()
    WHERE id = ${orderId} AND status NOT IN ('COMPLETED', 'CANCELLED', 'FAILED')`;
}

/**
 * The SDK's activity logger (its lines carry workflowId, runId and activityType), or undefined when
 * called outside an activity (scripts, tests calling helpers directly).
 */
function activityLog() {
  try {
    return Context.current().log;
  } catch {
    return undefined;
  }
}

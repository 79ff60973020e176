import { Context } from '@temporalio/activity';
import type { Db, Prisma } from '../db/client';
import type { Providers } from '../providers/types';
import type { OrderProgress, OrderStatus } from '../workflows/definitions';
import { businessFailure } from '../workflows/failures';

/** What every activity context receives from the worker. */
export interface ActivityDeps {
  db: Db;
  providers: Providers;
}

export type Tx = Prisma.TransactionClient;

/**
 * Serialise writes to one order: every transaction that appends to the order's event log first
 * locks the order row, so event versions are gap-free and never collide. Returns the order's status.
 */
export async function lockOrder(tx: Tx, orderId: string): Promise<{ status: OrderStatus }> {
  const rows = await tx.$queryRaw<
    { status: OrderStatus }[]
  >`SELECT status FROM orders WHERE id = ${orderId} FOR UPDATE`;
  const row = rows[0];
  if (!row) {
    throw businessFailure('OrderNotRecorded', `Order ${orderId} is not in the database`);
  }
  return row;
}

/**
 * What a step changes in the order's read model: the progress the workflow handed to the activity (activities never
 * choose a status themselves) and facts such as the charged amount. Terminal orders keep their status, step and
 * reason, so a reset run replaying a finished order cannot move it back.
 */
export interface OrderChange {
  progress?: OrderProgress;
  chargedCents?: number;
}

/**
 * Append to the order's audit trail and, with `change`, move the read model, in one statement. `eventId` is derived
 * from the order and the step, so a retried activity that already committed appends nothing the second time.
 * Call after lockOrder in the same transaction: the lock is what keeps MAX(version) + 1 unique.
 */
export async function recordEvent(
  tx: Tx,
  orderId: string,
  event: { id: string; type: string; data?: Record<string, unknown> },
  change?: OrderChange,
): Promise<boolean> {
  const progress = change?.progress;
  const [row] = await tx.$queryRaw<{ inserted: number }[]>`
    WITH event AS (
      INSERT INTO order_events (event_id, order_id, version, event_type, data)
      SELECT ${event.id}, ${orderId}, COALESCE(MAX(version), 0) + 1, ${event.type}, ${JSON.stringify(event.data ?? {})}::jsonb
      FROM order_events WHERE order_id = ${orderId}
      ON CONFLICT (event_id) DO NOTHING
      RETURNING 1
    ), change AS (
      UPDATE orders SET
        status = CASE WHEN status IN ('COMPLETED', 'CANCELLED', 'FAILED') THEN status
                      ELSE COALESCE(${progress?.status ?? null}, status) END,
        step = CASE WHEN status IN ('COMPLETED', 'CANCELLED', 'FAILED') THEN step ELSE COALESCE(${progress?.step ?? null}, step) END,
        outcome_reason = CASE WHEN status IN ('COMPLETED', 'CANCELLED', 'FAILED') OR NOT ${progress !== undefined}
                              THEN outcome_reason ELSE ${progress?.reason ?? null} END,
        charged_cents = COALESCE(${change?.chargedCents ?? null}::int, charged_cents),
        updated_at = now()
      WHERE id = ${orderId} AND ${change !== undefined}
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM event)::int AS inserted`;
  const inserted = (row?.inserted ?? 0) > 0;
  if (inserted) activityLog()?.info('order event recorded', { orderId, eventType: event.type, eventId: event.id });
  return inserted;
}

/** Append to the audit trail without moving the read model (see recordEvent). */
export function appendEvent(
  tx: Tx,
  orderId: string,
  eventId: string,
  eventType: string,
  data: Record<string, unknown> = {},
): Promise<boolean> {
  return recordEvent(tx, orderId, { id: eventId, type: eventType, data });
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

/**
 * The invariants, checked once everything settled: in SQL against our tables, against the provider
 * sandbox's own records (schema `sandbox`: the PaymentIntents and refunds of its Stripe account, the
 * shipments of its EasyPost account, the messages its SMTP listener received), and against Temporal
 * (how each order's latest run ended).
 */
import { WorkflowFailedError } from '@temporalio/client';
import { orderWorkflowId, TERMINAL_STATUSES, type OrderResult } from '../../src/workflows/definitions';
import fs from 'node:fs';
import { ADDRESS, type TrackedOrder } from './orders';
import type { ChaosStack } from './stack';

export interface Violation {
  invariant: string;
  orderId?: string;
  detail: string;
}

export interface StockLine {
  sku: string;
  initial: number;
  adjustments: number;
  available: number;
  reserved: number;
  activeReservations: number;
  consumed: number;
  returned: number;
  shipped: number;
  inFlight: number;
  shortfall: number;
}

export interface InvariantReport {
  violations: Violation[];
  summary: {
    byStatus: Record<string, number>;
    checked: Record<string, number>;
    money: { chargedCents: number; refundedCents: number; revenueCents: number };
    stock: StockLine[];
    labels: { booked: number; voided: number; pickedUp: number };
    workflowOutcomes: Record<string, number>;
    /** How often the recovery paths for lost answers and replayed orders ran (each one a would-be violation). */
    recoveries: Record<string, number>;
  };
}

interface OrderRow {
  id: string;
  status: string;
  step: string;
  charged_cents: number | null;
  refunded_cents: number;
  outcome_reason: string | null;
}

const group = <T, K>(rows: T[], key: (row: T) => K): Map<K, T[]> => {
  const map = new Map<K, T[]>();
  for (const row of rows) map.set(key(row), [...(map.get(key(row)) ?? []), row]);
  return map;
};
const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);

export async function checkInvariants(
  stack: ChaosStack,
  accepted: TrackedOrder[],
  initialStock: Map<string, number>,
): Promise<InvariantReport> {
  const violations: Violation[] = [];
  const checked: Record<string, number> = {};
  const fail = (invariant: string, detail: string, orderId?: string) =>
    violations.push({ invariant, detail, ...(orderId ? { orderId } : {}) });
  const check = (invariant: string, ok: boolean, detail: () => string, orderId?: string) => {
    checked[invariant] = (checked[invariant] ?? 0) + 1;
    if (!ok) fail(invariant, detail(), orderId);
  };
  const q = async <T extends object>(sql: string, params: unknown[] = []): Promise<T[]> =>
    (await stack.harvestDb.query<T>(sql, params)).rows;
  const s = async <T extends object>(sql: string, params: unknown[] = []): Promise<T[]> =>
    (await stack.sandboxDb.query<T>(sql, params)).rows;

  const orders = await q<OrderRow>(
    'SELECT id, status, step, charged_cents, refunded_cents, outcome_reason FROM orders ORDER BY id',
  );
  const lines = await q<{
    order_id: string;
    sku: string;
    quantity: number;
    unit_price_cents: number;
    harvested_quantity: number | null;
  }>('SELECT order_id, sku, quantity, unit_price_cents, harvested_quantity FROM order_lines');
  const reservations = await q<{ order_id: string; sku: string; quantity: number; status: string }>(
    'SELECT order_id, sku, quantity, status FROM reservations',
  );
  const tasks = await q<{ order_id: string; status: string }>('SELECT order_id, status FROM harvest_tasks');
  const packages = await q<{ order_id: string; status: string }>('SELECT order_id, status FROM packages');
  const payments = await q<{
    order_id: string;
    status: string;
    provider_charge_id: string | null;
    amount_cents: number;
  }>('SELECT order_id, status, provider_charge_id, amount_cents FROM payments');
  const shipments = await q<{ order_id: string; carrier: string; label_id: string; status: string }>(
    'SELECT order_id, carrier, label_id, status FROM shipments',
  );
  const events = await q<{ order_id: string; version: number; event_type: string }>(
    'SELECT order_id, version, event_type FROM order_events ORDER BY order_id, version',
  );
  const products = await q<{ sku: string; available: number; reserved: number }>(
    'SELECT sku, available, reserved FROM products ORDER BY sku',
  );
  const adjustments = await q<{ sku: string; delta: number }>(
    'SELECT sku, sum(delta)::int AS delta FROM stock_adjustments GROUP BY sku',
  );
  // What the simulated Stripe account, EasyPost account and mail server hold (src/sandbox/store.ts).
  const charges = await s<{
    id: string;
    order_id: string;
    amount_cents: number;
    status: string;
    idempotency_key: string;
  }>(
    `SELECT id, order_id, amount AS amount_cents, status, idempotency_key FROM sandbox.stripe_payment_intents
     WHERE order_id IS NOT NULL`,
  );
  const gatewayRefunds = await s<{ id: string; charge_id: string; order_id: string; amount_cents: number }>(
    `SELECT r.id, r.payment_intent_id AS charge_id, pi.order_id, r.amount AS amount_cents
     FROM sandbox.stripe_refunds r JOIN sandbox.stripe_payment_intents pi ON pi.id = r.payment_intent_id`,
  );
  // Shipments whose label was bought; the order and carrier are in the reference the adapter books under.
  const labels = await s<{ id: string; carrier: string; order_id: string; reference: string; status: string }>(
    `SELECT id, carrier, substring(reference from '^order:(.*):label:[a-z]+$') AS order_id, reference,
            CASE status WHEN 'PURCHASED' THEN 'BOOKED' ELSE status END AS status
     FROM sandbox.easypost_shipments WHERE status <> 'CREATED'`,
  );
  const notifications = await s<{ order_id: string; kind: string; message_id: string | null }>(
    'SELECT order_id, kind, message_id FROM sandbox.smtp_messages WHERE order_id IS NOT NULL',
  );

  const byStatus: Record<string, number> = {};
  for (const o of orders) byStatus[o.status] = (byStatus[o.status] ?? 0) + 1;
  const linesBy = group(lines, (r) => r.order_id);
  const reservationsBy = group(reservations, (r) => r.order_id);
  const taskBy = new Map(tasks.map((t) => [t.order_id, t.status]));
  const packageBy = new Map(packages.map((p) => [p.order_id, p.status]));
  const paymentsBy = group(payments, (r) => r.order_id);
  const shipmentsBy = group(shipments, (r) => r.order_id);
  const eventsBy = group(events, (r) => r.order_id);
  const chargesBy = group(
    charges.filter((c) => c.status === 'succeeded'),
    (r) => r.order_id,
  );
  const refundsBy = group(gatewayRefunds, (r) => r.order_id);
  const labelsBy = group(labels, (r) => r.order_id);
  const notificationsBy = group(notifications, (r) => r.order_id);
  const ordersById = new Map(orders.map((o) => [o.id, o]));

  // --- every accepted order recorded, no order nobody submitted ----------------------------------------
  const acceptedIds = new Set(accepted.map((o) => o.orderId!));
  for (const id of acceptedIds) {
    check('every accepted order is recorded', ordersById.has(id), () => 'no orders row', id);
  }
  check(
    'one Idempotency-Key, one order',
    orders.length === acceptedIds.size && orders.every((o) => acceptedIds.has(o.id)),
    () => `${orders.length} orders rows for ${acceptedIds.size} accepted keys`,
  );
  for (const id of new Set([...charges, ...labels, ...notifications].map((r) => r.order_id))) {
    check(
      'providers only act for accepted orders',
      acceptedIds.has(id),
      () => 'provider records for an unknown order',
      id,
    );
  }

  // --- per order --------------------------------------------------------------------------------------------
  const trackedBy = new Map(accepted.map((o) => [o.orderId!, o]));
  for (const order of orders) {
    const id = order.id;
    const terminal = (TERMINAL_STATUSES as readonly string[]).includes(order.status);
    check('every order reaches a terminal state', terminal, () => `status ${order.status} at ${order.step}`, id);

    // The API's answers are the workflow's decisions: what it said is what happened.
    const tracked = trackedBy.get(id);
    if (tracked?.outOfStock) {
      check(
        'an order answered out-of-stock ends CANCELLED with nothing reserved, charged, shipped or e-mailed',
        order.status === 'CANCELLED' &&
          (reservationsBy.get(id) ?? []).length === 0 &&
          (chargesBy.get(id) ?? []).length === 0 &&
          (labelsBy.get(id) ?? []).length === 0 &&
          (notificationsBy.get(id) ?? []).length === 0,
        () => `status ${order.status}, reservations ${JSON.stringify(reservationsBy.get(id) ?? [])}`,
        id,
      );
    } else if (tracked) {
      check(
        'an order answered 202 had its stock reserved',
        (reservationsBy.get(id) ?? []).length > 0,
        () => `no reservation rows; status ${order.status}, reason ${order.outcome_reason ?? ''}`,
        id,
      );
    }
    const cancel = tracked?.cancel;
    if (cancel?.answered === 202) {
      check(
        'a cancel answered 202 ends the order CANCELLED (or FAILED when a compensation gave up)',
        order.status === 'CANCELLED' || order.status === 'FAILED',
        () => `cancel accepted (${cancel.mode}), order ${order.status}`,
        id,
      );
    } else if (cancel?.refusal === '/problems/too-late-to-cancel') {
      check(
        'a cancel answered too-late-to-cancel ends the order COMPLETED',
        order.status === 'COMPLETED',
        () => `cancel refused (${cancel.mode}), order ${order.status}`,
        id,
      );
    }

    // Money: the gateway's records are the truth.
    const succeeded = chargesBy.get(id) ?? [];
    const refunds = refundsBy.get(id) ?? [];
    const refunded = sum(refunds.map((r) => r.amount_cents));
    check('at most one successful charge per order', succeeded.length <= 1, () => `${succeeded.length} charges`, id);
    for (const refund of refunds) {
      check(
        'no refund without a charge',
        succeeded.some((c) => c.id === refund.charge_id),
        () => `refund ${refund.id} against ${refund.charge_id}, which is not a succeeded charge of the order`,
        id,
      );
    }
    check(
      'refunds never exceed the charge',
      refunded <= sum(succeeded.map((c) => c.amount_cents)),
      () => `refunded ${refunded} of ${sum(succeeded.map((c) => c.amount_cents))}`,
      id,
    );
    const orderLines = linesBy.get(id) ?? [];
    const harvestedValue = sum(orderLines.map((l) => (l.harvested_quantity ?? 0) * l.unit_price_cents));
    const live = (labelsBy.get(id) ?? []).filter((l) => l.status !== 'VOIDED');
    check(
      'at most one active label per order at the carriers',
      live.length <= 1,
      () => `${live.map((l) => `${l.carrier}:${l.id}:${l.status}`).join(', ')}`,
      id,
    );
    const received = notificationsBy.get(id) ?? [];
    const sent = received.map((n) => n.kind);
    for (const kind of new Set(sent)) {
      // SMTP is at least once: a retried send after a lost answer delivers a copy, which must be recognisable.
      const ids = new Set(received.filter((n) => n.kind === kind).map((n) => n.message_id));
      check(
        'every copy of a message carries its one Message-ID',
        ids.size === 1 && !ids.has(null),
        () => `${kind}: Message-IDs ${[...ids].join(', ')}`,
        id,
      );
    }
    const references = (labelsBy.get(id) ?? []).map((l) => l.reference);
    check(
      'one shipment per order and carrier at the shipping API (its reference)',
      new Set(references).size === references.length,
      () => `references ${references.join(', ')}`,
      id,
    );
    const dbPayments = paymentsBy.get(id) ?? [];
    for (const p of dbPayments.filter((p) => p.status === 'SUCCEEDED' || p.status === 'REFUNDED')) {
      check(
        'our payment rows match the gateway',
        succeeded.some((c) => c.id === p.provider_charge_id && c.amount_cents === p.amount_cents),
        () => `payment ${p.status} ${p.provider_charge_id} ${p.amount_cents} not at the gateway`,
        id,
      );
    }
    const versions = (eventsBy.get(id) ?? []).map((e) => e.version);
    check(
      'audit trail versions are gap-free',
      versions.every((v, i) => v === i + 1),
      () => `versions ${versions.join(',')}`,
      id,
    );

    if (order.status === 'COMPLETED') {
      const charge = succeeded[0];
      check(
        'a fulfilled order is charged exactly once',
        succeeded.length === 1,
        () => `${succeeded.length} charges`,
        id,
      );
      check('a fulfilled order keeps its money', refunded === 0, () => `refunded ${refunded}`, id);
      check(
        'a fulfilled order is charged for what was harvested',
        charge !== undefined && charge.amount_cents === harvestedValue && order.charged_cents === harvestedValue,
        () =>
          `gateway ${charge?.amount_cents}, orders.charged_cents ${order.charged_cents}, harvested ${harvestedValue}`,
        id,
      );
      check(
        'a fulfilled order has one picked-up label',
        live.length === 1 && live[0]?.status === 'PICKED_UP',
        () => `labels ${live.map((l) => l.status).join(',') || 'none'}`,
        id,
      );
      const shipped = (shipmentsBy.get(id) ?? []).filter((x) => x.status === 'PICKED_UP');
      check(
        'our shipment row matches the carrier',
        shipped.length === 1 && live.some((l) => l.id === shipped[0]?.label_id && l.carrier === shipped[0]?.carrier),
        () => `shipments ${JSON.stringify(shipmentsBy.get(id) ?? [])}`,
        id,
      );
      check(
        'a fulfilled order consumed its reservations',
        (reservationsBy.get(id) ?? []).every((r) => r.status === 'CONSUMED') && taskBy.get(id) === 'COMPLETED',
        () => `reservations ${JSON.stringify(reservationsBy.get(id))}, task ${taskBy.get(id)}`,
        id,
      );
      check(
        'a fulfilled order gets no cancellation notice',
        !sent.includes('cancellation'),
        () => 'cancellation notice sent for a completed order',
        id,
      );
    } else if (order.status === 'CANCELLED' || order.status === 'FAILED') {
      check(
        'a cancelled order keeps no money',
        refunded === sum(succeeded.map((c) => c.amount_cents)),
        () => `charged ${sum(succeeded.map((c) => c.amount_cents))} at the gateway, refunded ${refunded}`,
        id,
      );
      check(
        'a cancelled order leaves no active label',
        live.length === 0,
        () => `labels ${live.map((l) => `${l.carrier}:${l.status}`).join(', ')}`,
        id,
      );
      const active = (reservationsBy.get(id) ?? []).filter((r) => r.status === 'ACTIVE');
      check('a cancelled order leaves no active reservation', active.length === 0, () => JSON.stringify(active), id);
      const task = taskBy.get(id);
      check(
        'a cancelled order leaves no open harvest task and no harvested produce',
        task === undefined || task === 'CANCELLED' || task === 'RETURNED',
        () => `harvest task ${task}`,
        id,
      );
      check(
        'a cancelled order leaves no packed parcel',
        packageBy.get(id) !== 'PACKED',
        () => `package ${packageBy.get(id)}`,
        id,
      );
      check(
        'a cancelled order gets no confirmation',
        !sent.includes('confirmation'),
        () => 'confirmation sent for a cancelled order',
        id,
      );
      check(
        'no order ends FAILED (a compensation gave up)',
        order.status !== 'FAILED',
        () => order.outcome_reason ?? '',
        id,
      );
    }
  }

  // --- money overall --------------------------------------------------------------------------------------
  const chargedCents = sum(charges.filter((c) => c.status === 'succeeded').map((c) => c.amount_cents));
  const refundedCents = sum(gatewayRefunds.map((r) => r.amount_cents));
  const revenueCents = sum(orders.filter((o) => o.status === 'COMPLETED').map((o) => o.charged_cents ?? 0));
  check(
    'charges minus refunds equal the revenue of fulfilled orders',
    chargedCents - refundedCents === revenueCents,
    () =>
      `gateway charged ${chargedCents} - refunded ${refundedCents} = ${chargedCents - refundedCents}, revenue ${revenueCents}`,
  );

  // --- stock ------------------------------------------------------------------------------------------------
  // reserve: available -> reserved (reservation ACTIVE); release: back (RELEASED); recordHarvest consumes the
  // reservation (reserved -= ordered, CONSUMED): the harvested quantity travels with the order, the shortfall
  // never existed; cancelHarvest returns the harvested quantity to available (task RETURNED). Hence, per SKU:
  //   initial + adjustments = available + reserved + consumed - returned
  // where consumed - returned = shipped (COMPLETED) + in flight (harvested, order not finished) + shortfalls.
  const stock: StockLine[] = [];
  const adjustmentBy = new Map(adjustments.map((a) => [a.sku, a.delta]));
  const statusBy = new Map(orders.map((o) => [o.id, o.status]));
  for (const product of products) {
    const sku = product.sku;
    const skuReservations = reservations.filter((r) => r.sku === sku);
    const activeReservations = sum(skuReservations.filter((r) => r.status === 'ACTIVE').map((r) => r.quantity));
    const consumedRows = skuReservations.filter((r) => r.status === 'CONSUMED');
    const consumed = sum(consumedRows.map((r) => r.quantity));
    const harvestedOf = (orderId: string) => linesBy.get(orderId)?.find((l) => l.sku === sku)?.harvested_quantity ?? 0;
    const returned = sum(
      consumedRows.filter((r) => taskBy.get(r.order_id) === 'RETURNED').map((r) => harvestedOf(r.order_id)),
    );
    const shipped = sum(
      consumedRows.filter((r) => statusBy.get(r.order_id) === 'COMPLETED').map((r) => harvestedOf(r.order_id)),
    );
    const inFlight = sum(
      consumedRows
        .filter((r) => taskBy.get(r.order_id) !== 'RETURNED' && statusBy.get(r.order_id) !== 'COMPLETED')
        .map((r) => harvestedOf(r.order_id)),
    );
    const shortfall = sum(consumedRows.map((r) => r.quantity - harvestedOf(r.order_id)));
    const line: StockLine = {
      sku,
      initial: initialStock.get(sku) ?? 0,
      adjustments: adjustmentBy.get(sku) ?? 0,
      available: product.available,
      reserved: product.reserved,
      activeReservations,
      consumed,
      returned,
      shipped,
      inFlight,
      shortfall,
    };
    stock.push(line);
    check(
      'stock is conserved: initial + adjustments = available + reserved + consumed - returned',
      line.initial + line.adjustments === line.available + line.reserved + line.consumed - line.returned,
      () => `${sku}: ${JSON.stringify(line)}`,
    );
    check(
      'products.reserved = sum of ACTIVE reservations',
      line.reserved === activeReservations,
      () => `${sku}: ${JSON.stringify(line)}`,
    );
    check(
      'stock is never negative',
      line.available >= 0 && line.reserved >= 0,
      () => `${sku}: ${JSON.stringify(line)}`,
    );
    check('no produce in flight once everything settled', inFlight === 0, () => `${sku}: ${JSON.stringify(line)}`);
  }

  // --- Temporal agrees with the read model -------------------------------------------------------------------
  const workflowOutcomes: Record<string, number> = {};
  for (const order of orders) {
    const handle = stack.client.workflow.getHandle(orderWorkflowId(order.id));
    let outcome: string;
    try {
      const description = await handle.describe();
      outcome = description.status.name;
      if (outcome === 'COMPLETED') outcome = `COMPLETED:${((await handle.result()) as OrderResult).status}`;
      else if (outcome === 'FAILED') {
        outcome = await handle.result().then(
          () => 'FAILED',
          (error: unknown) =>
            `FAILED:${error instanceof WorkflowFailedError && error.cause && 'type' in error.cause ? String(error.cause.type) : '?'}`,
        );
      }
    } catch (error) {
      outcome = `unknown (${String(error).slice(0, 80)})`;
    }
    const label = `${order.status} <- run ${outcome}`;
    workflowOutcomes[label] = (workflowOutcomes[label] ?? 0) + 1;
    const fulfilled = outcome === 'COMPLETED:COMPLETED';
    check(
      'the latest run and the read model agree on the outcome',
      fulfilled === (order.status === 'COMPLETED') && !outcome.startsWith('RUNNING'),
      () => `orders.status ${order.status}, latest run ${outcome}`,
      order.id,
    );
  }

  // Every payload is encrypted (src/codec), through crashes, restarts and resets: the dev server's store (its SQLite
  // file and WAL, as they are after the run) never holds an order's address in plain text.
  const store = Buffer.concat(
    [stack.temporalDb, `${stack.temporalDb}-wal`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f)),
  );
  for (const value of [ADDRESS.name, ADDRESS.line1]) {
    check(
      "no customer data in plain text in Temporal's store",
      !store.includes(Buffer.from(value, 'utf8')),
      () => `"${value}" found in ${stack.temporalDb} (or its WAL)`,
    );
  }

  const recoveries: Record<string, number> = {};
  for (const [name, sql] of [
    [
      'charges found only at the gateway (every answer lost), then refunded',
      `SELECT count(*)::int AS n FROM order_events WHERE event_type = 'PaymentCaptured' AND data->>'foundAtGateway' = 'true'`,
    ],
    [
      'labels adopted after their booking answer was lost',
      `SELECT count(*)::int AS n FROM shipment_attempts WHERE outcome LIKE 'adopted%'`,
    ],
    [
      'labels voided that our records never had (booking answer lost)',
      `SELECT count(*)::int AS n FROM shipments WHERE position('-shp_' in id) > 0 AND status = 'VOIDED'`,
    ],
    [
      'cancels refused after pickup (CancelRefused)',
      `SELECT count(*)::int AS n FROM order_events WHERE event_type = 'CancelRefused'`,
    ],
  ] as const) {
    recoveries[name] = (await q<{ n: number }>(sql))[0]?.n ?? 0;
  }
  recoveries['messages delivered twice after a lost SMTP answer (same Message-ID)'] =
    notifications.length - new Set(notifications.map((n) => `${n.order_id}:${n.kind}`)).size;
  for (const [label, n] of Object.entries(workflowOutcomes)) {
    const type = /FAILED:(HarvestClosed|OrderClosed)/.exec(label)?.[1];
    if (type) recoveries[`reset runs refused by ${type}`] = (recoveries[`reset runs refused by ${type}`] ?? 0) + n;
  }

  return {
    violations,
    summary: {
      recoveries,
      byStatus,
      checked,
      money: { chargedCents, refundedCents, revenueCents },
      stock,
      labels: {
        booked: labels.filter((l) => l.status === 'BOOKED').length,
        voided: labels.filter((l) => l.status === 'VOIDED').length,
        pickedUp: labels.filter((l) => l.status === 'PICKED_UP').length,
      },
      workflowOutcomes,
    },
  };
}

import { Router, type RequestHandler } from 'express';
import type { Db } from '../db/client';
import { Counter, Gauge, Histogram, Registry } from '../lib/metrics';

/**
 * GET /metrics: HTTP metrics of this API process, plus domain metrics read from PostgreSQL at
 * scrape time. Domain figures come from the database rather than from in-process counters because
 * workers and API replicas come and go; the database is the one place every replica agrees on.
 * The Temporal SDK's own worker metrics are on the worker's Prometheus endpoint (WORKER_METRICS_ADDRESS).
 */
export function createMetrics(db: Db) {
  const registry = new Registry();
  const requests = registry.register(
    new Counter('htd_http_requests_total', 'HTTP requests by method, route and status'),
  );
  const duration = registry.register(
    new Histogram(
      'htd_http_request_duration_seconds',
      'HTTP request latency by method and route',
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    ),
  );
  const orders = registry.register(
    new Gauge('htd_orders', 'Orders by current status (COMPLETED, CANCELLED, FAILED are outcomes)'),
  );
  const parked = registry.register(
    new Gauge('htd_orders_parked', 'Orders parked in NEEDS_ATTENTION, waiting for an operator'),
  );
  const compensations = registry.register(new Gauge('htd_compensations', 'Compensations completed, by kind'));
  const fallbacks = registry.register(new Gauge('htd_carrier_fallbacks', 'Labels booked with the backup carrier'));
  const attempts = registry.register(
    new Gauge('htd_carrier_attempts', 'Carrier booking attempts by carrier and outcome'),
  );
  const harvestWait = registry.register(
    new Gauge(
      'htd_harvest_wait_seconds',
      'Time from harvest task creation to the crew report (completed tasks): quantiles',
    ),
  );

  const track: RequestHandler = (req, res, next) => {
    const start = process.hrtime.bigint();
    res.once('finish', () => {
      // Route patterns, not raw paths, keep label cardinality bounded: a request refused before its
      // route ran (401, 405, a malformed body) is labelled with the documented path it matched.
      const route =
        (req.route as { path?: string } | undefined)?.path ??
        (res.locals.routePattern as string | undefined) ??
        'unmatched';
      const labels = { method: req.method, route: String(route) };
      requests.inc({ ...labels, status: String(res.statusCode) });
      duration.observe(labels, Number(process.hrtime.bigint() - start) / 1e9);
    });
    next();
  };

  async function refreshDomain(): Promise<void> {
    const [byStatus, events, backup, byAttempt, wait] = await Promise.all([
      db.$queryRaw<{ status: string; n: bigint }[]>`SELECT status, count(*) AS n FROM orders GROUP BY status`,
      db.$queryRaw<{ event_type: string; n: bigint }[]>`
        SELECT event_type, count(*) AS n FROM order_events
        WHERE event_type IN ('ReservationReleased', 'HarvestCancelled', 'HarvestReturnedToStock', 'OrderUnpacked', 'PaymentRefunded', 'LabelVoided')
        GROUP BY event_type`,
      db.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM shipments WHERE carrier = 'backup'`,
      db.$queryRaw<{ carrier: string; outcome: string; n: bigint }[]>`
        SELECT carrier, outcome, count(*) AS n FROM shipment_attempts GROUP BY carrier, outcome`,
      db.$queryRaw<{ p50: number | null; p95: number | null }[]>`
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - created_at)) AS p50,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - created_at)) AS p95
        FROM harvest_tasks WHERE completed_at IS NOT NULL`,
    ]);
    orders.reset();
    for (const row of byStatus) orders.set({ status: row.status }, Number(row.n));
    parked.set({}, Number(byStatus.find((r) => r.status === 'NEEDS_ATTENTION')?.n ?? 0));
    compensations.reset();
    for (const row of events) compensations.set({ kind: row.event_type }, Number(row.n));
    fallbacks.set({}, Number(backup[0]?.n ?? 0));
    attempts.reset();
    for (const row of byAttempt) attempts.set({ carrier: row.carrier, outcome: row.outcome }, Number(row.n));
    harvestWait.reset();
    harvestWait.set({ quantile: '0.5' }, Number(wait[0]?.p50 ?? 0));
    harvestWait.set({ quantile: '0.95' }, Number(wait[0]?.p95 ?? 0));
  }

  const router = Router();
  router.get('/metrics', async (_req, res) => {
    await refreshDomain();
    res.type('text/plain; version=0.0.4').send(registry.render());
  });
  return { track, router };
}

/**
 * Load generation: a keep-alive HTTP client, an open-loop (fixed arrival rate) driver and a
 * closed-loop (fixed concurrency) driver. Latencies in the open loop are measured from the
 * intended send time, so a stalled server cannot hide its queueing (no coordinated omission).
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const agent = new http.Agent({ keepAlive: true, maxSockets: 1024, maxFreeSockets: 1024 });

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function request(
  url: string,
  method: 'GET' | 'POST',
  headers: Record<string, string>,
  body?: unknown,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(
      url,
      {
        method,
        agent,
        headers: {
          ...headers,
          ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(120_000, () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

export function closeHttpAgent(): void {
  agent.destroy();
}

export const now = (): number => performance.now();
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What one operation reports: its own timings (ms) under names, e.g. { accepted: 12, completed: 640 }. */
export type OpTimings = Record<string, number>;

export interface OpRecord {
  /** When the operation was meant to start (open loop) or started (closed loop), ms on the performance clock. */
  start: number;
  end: number;
  ok: boolean;
  timings: OpTimings;
  error?: string;
}

export interface RunRecord {
  records: OpRecord[];
  /** When issuing started and stopped. */
  t0: number;
  issueEnd: number;
  /** When the last operation finished. */
  drained: number;
}

async function runOne(
  index: number,
  start: number,
  op: (i: number, start: number) => Promise<OpTimings>,
): Promise<OpRecord> {
  try {
    const timings = await op(index, start);
    return { start, end: now(), ok: true, timings };
  } catch (error) {
    return { start, end: now(), ok: false, timings: {}, error: error instanceof Error ? error.message : String(error) };
  }
}

const UNFINISHED = 'unfinished when the phase ended (drain timeout)';

/** Resolve after `ms`, or never when ms is undefined. */
function deadline(ms: number | undefined): Promise<void> {
  return ms === undefined ? new Promise<void>(() => undefined) : sleep(ms);
}

/**
 * Fixed concurrency: `concurrency` virtual users each run `op` back to back until `durationMs`
 * has passed (or `maxOps` were issued), then the run waits for the operations in flight - at most
 * `drainTimeoutMs`; operations still running then are recorded as failed and left behind.
 */
export async function closedLoop(options: {
  concurrency: number;
  durationMs: number;
  maxOps?: number;
  drainTimeoutMs?: number;
  op: (i: number, start: number) => Promise<OpTimings>;
}): Promise<RunRecord> {
  const records: OpRecord[] = [];
  const inFlight = new Map<number, number>();
  const t0 = now();
  const stopAt = t0 + options.durationMs;
  let issued = 0;
  let abandoned = false;
  const user = async () => {
    while (!abandoned && now() < stopAt && (options.maxOps === undefined || issued < options.maxOps)) {
      const index = issued++;
      const start = now();
      inFlight.set(index, start);
      const record = await runOne(index, start, options.op);
      inFlight.delete(index);
      if (!abandoned) records.push(record);
    }
  };
  const users = Promise.all(Array.from({ length: options.concurrency }, user));
  await Promise.race([users, sleep(options.durationMs).then(() => deadline(options.drainTimeoutMs))]);
  abandoned = true;
  const drained = now();
  for (const start of inFlight.values())
    records.push({ start, end: drained, ok: false, timings: {}, error: UNFINISHED });
  return { records, t0, issueEnd: Math.min(stopAt, drained), drained };
}

/**
 * Fixed arrival rate: operation i is issued at t0 + i / rate, whatever happened to the earlier ones.
 * After issuing, waits for the operations in flight at most `drainTimeoutMs`.
 */
export async function openLoop(options: {
  ratePerSec: number;
  durationMs: number;
  drainTimeoutMs?: number;
  op: (i: number, start: number) => Promise<OpTimings>;
}): Promise<RunRecord> {
  const total = Math.max(1, Math.round((options.ratePerSec * options.durationMs) / 1000));
  const interval = 1000 / options.ratePerSec;
  const t0 = now();
  const settled: (OpRecord | undefined)[] = new Array<OpRecord | undefined>(total);
  const pending: Promise<void>[] = [];
  const starts: number[] = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + i * interval;
    const wait = due - now();
    if (wait > 1) await sleep(wait);
    starts[i] = due;
    pending.push(runOne(i, due, options.op).then((record) => void (settled[i] = record)));
  }
  const issueEnd = now();
  await Promise.race([Promise.all(pending), deadline(options.drainTimeoutMs)]);
  const drained = now();
  // Array.from, not map: map skips the holes that unfinished operations leave.
  const records = Array.from(
    { length: total },
    (_, i) => settled[i] ?? { start: starts[i] as number, end: drained, ok: false, timings: {}, error: UNFINISHED },
  );
  return { records, t0, issueEnd, drained };
}

/** Run `fn` over items with at most `limit` at a time. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>) {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/**
 * Completions per second at steady state: operations that finished inside the issuing window,
 * counted from the first completion (the ramp-up before it is excluded) to the end of issuing.
 */
export function steadyThroughput(run: RunRecord): { perSec: number; counted: number; windowMs: number } {
  const ends = run.records
    .filter((r) => r.ok)
    .map((r) => r.end)
    .sort((a, b) => a - b);
  const first = ends[0];
  if (first === undefined) return { perSec: 0, counted: 0, windowMs: 0 };
  const windowEnd = run.issueEnd;
  const counted = ends.filter((t) => t > first && t <= windowEnd).length;
  const windowMs = windowEnd - first;
  if (windowMs < 200 || counted < 5) {
    // Too short a window (ops slower than the phase): fall back to everything over the whole run.
    const all = ends.length;
    const span = run.drained - run.t0;
    return { perSec: (all / span) * 1000, counted: all, windowMs: span };
  }
  return { perSec: (counted / windowMs) * 1000, counted, windowMs };
}

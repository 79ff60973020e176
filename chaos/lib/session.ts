/**
 * One chaos session: a fresh stack, a seeded stream of orders driven through the HTTP API while a
 * seeded schedule of faults hits the processes and the providers, then a settle phase (faults
 * cleared, parked orders retried or cancelled, finished runs reset and settled again), then the
 * invariants and the replay of every history.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FaultsUpdate } from '../../src/sandbox/contract';
import {
  cancelOrderSignal,
  orderWorkflowId,
  retryCarrierBookingSignal,
  TERMINAL_STATUSES,
  type OrderStatus,
} from '../../src/workflows/definitions';
import { call, KEYS, transient } from './http';
import { checkInvariants, type InvariantReport, type Violation } from './invariants';
import { crewYields, LAST_UNITS_SKU, lastUnitsOrder, regularOrder, type OrderBody, type TrackedOrder } from './orders';
import { Prng } from './prng';
import { replayAll, type ReplayReport } from './replay';
import { ChaosStack, sleep } from './stack';

export type ActionKind =
  | 'worker-kill'
  | 'worker-kill-after-charge'
  | 'temporal-kill'
  | 'pg-terminate'
  | 'pg-restart'
  | 'inventory-errors'
  | 'provider-phase'
  | 'last-units'
  | 'reset';

export interface Profile {
  name: 'short' | 'full';
  /** Regular orders per session (last-units and reservation-burst orders come on top). */
  orders: number;
  driveSec: number;
  actions: Record<ActionKind, number>;
  /** After the faults stop: every order must be finished (parked ones retried/cancelled) within this. */
  settleBoundSec: number;
  /** Finished runs reset after the first settle (on top of the resets during the drive). */
  resetsAfterSettle: number;
  workers: number;
  providerTimeoutMs: number;
}

/** Provider fault mixes; one is active at a time, switched by provider-phase actions. */
const PROVIDER_PHASES: Record<string, FaultsUpdate> = {
  // 40% of gateway calls fail: 25% answer 503 before charging, 15% charge and lose the answer.
  'payments 40% errors+timeouts': { payments: { errorRate: 0.25, timeoutRate: 0.15, hangMs: 10_000 } },
  'primary outage': { primary: { outage: true } },
  // Every primary booking commits a label and its answer is lost: the workflow falls back to the backup.
  'primary answers lost': { primary: { timeoutRate: 1, hangMs: 10_000 } },
  'primary outage + backup errors': { primary: { outage: true }, backup: { errorRate: 0.5 } },
  'both carriers down': { primary: { outage: true }, backup: { outage: true } },
  'notification errors': { notifications: { errorRate: 0.5, timeoutRate: 0.1, hangMs: 10_000 } },
  'everything flaky': {
    payments: { errorRate: 0.2, timeoutRate: 0.2, hangMs: 10_000 },
    primary: { errorRate: 0.3, timeoutRate: 0.2, hangMs: 10_000 },
    backup: { errorRate: 0.3 },
    notifications: { errorRate: 0.3 },
  },
  calm: {},
};

export interface TimelineEntry {
  t: number;
  what: string;
}

export interface SessionResult {
  seed: number;
  profile: string;
  runtimeSec: number;
  orders: {
    driven: number;
    accepted: number;
    byKind: Record<string, number>;
    byStatus: Record<string, number>;
    submissions: number;
    transientSubmitFailures: number;
  };
  faults: Record<string, number>;
  operations: Record<string, number>;
  settle: {
    boundSec: number;
    timeToQuiesceSec: number | null;
    timeToSettleSec: number | null;
    afterResetsSec: number | null;
    parkedRetried: number;
    parkedCancelled: number;
  };
  unexpectedExits: { name: string; at: string; detail: string }[];
  violations: Violation[];
  invariants: InvariantReport['summary'];
  replay: ReplayReport;
  timeline: TimelineEntry[];
  dataDir?: string;
}

export async function runSession(
  seed: number,
  profile: Profile,
  options: { keep: boolean; say: (message: string) => void },
): Promise<SessionResult> {
  const session = new Session(seed, profile, options.say);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `htd-chaos-${seed}-`));
  // mkdtemp makes it 0700; as root, PostgreSQL runs as its own user, who keeps its cluster inside when it can enter.
  fs.chmodSync(dir, 0o755);
  const stack = new ChaosStack({
    dir,
    workers: profile.workers,
    providerTimeoutMs: profile.providerTimeoutMs,
    say: options.say,
  });
  const killOnExit = () => stack.killAll();
  process.once('exit', killOnExit);
  try {
    options.say(`seed ${seed}: starting the stack in ${dir}`);
    await stack.start();
    return await session.run(stack, dir);
  } finally {
    await stack.stop().catch((error: unknown) => options.say(`  stopping the stack failed: ${String(error)}`));
    process.off('exit', killOnExit);
    if (!options.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

class Session {
  private readonly rng: Prng;
  private readonly orderRng: Prng;
  private readonly crewRng: Prng;
  private readonly cancelRng: Prng;
  private readonly faultRng: Prng;
  private stack!: ChaosStack;
  private readonly orders: TrackedOrder[] = [];
  private readonly byOrderId = new Map<string, TrackedOrder>();
  private readonly timeline: TimelineEntry[] = [];
  private readonly faults: Record<string, number> = {};
  private readonly operations: Record<string, number> = {};
  private readonly violations: Violation[] = [];
  private readonly crewHandled = new Set<string>();
  private readonly submissions: Promise<void>[] = [];
  private t0 = Date.now();
  private running = true;
  private transientSubmitFailures = 0;
  private submissionCount = 0;
  private nextIndex = 0;

  constructor(
    private readonly seed: number,
    private readonly profile: Profile,
    private readonly say: (message: string) => void,
  ) {
    this.rng = new Prng(seed);
    this.orderRng = this.rng.fork('orders');
    this.crewRng = this.rng.fork('crew');
    this.cancelRng = this.rng.fork('cancels');
    this.faultRng = this.rng.fork('faults');
  }

  private note(what: string): void {
    const t = Math.round((Date.now() - this.t0) / 100) / 10;
    this.timeline.push({ t, what });
    this.say(`  [${t.toFixed(1)}s] ${what}`);
  }

  private count(bucket: Record<string, number>, name: string, n = 1): void {
    bucket[name] = (bucket[name] ?? 0) + n;
  }

  async run(stack: ChaosStack, dataDir: string): Promise<SessionResult> {
    this.stack = stack;
    const started = Date.now();
    await stack.harvestDb.query(
      `INSERT INTO products (sku, name, unit, price_cents, available, reserved, harvest_lead_days, shelf_life_days)
       VALUES ($1, 'Chaos last units', 'box', 990, 0, 0, 1, 2) ON CONFLICT (sku) DO NOTHING`,
      [LAST_UNITS_SKU],
    );
    const initialStock = new Map(
      (await stack.harvestDb.query<{ sku: string; available: number }>('SELECT sku, available FROM products')).rows.map(
        (r) => [r.sku, r.available] as const,
      ),
    );
    this.t0 = Date.now();
    const loops = [this.crewLoop(), this.cancelLoop()];

    // --- drive: orders and faults together -------------------------------------------------------------
    this.note(`drive: ${this.profile.orders} orders over ${this.profile.driveSec}s with faults`);
    await Promise.all([this.submitStream(), this.runActions()]);
    await Promise.all(this.submissions);

    // --- settle -------------------------------------------------------------------------------------------
    this.note('drive over: clearing provider faults, every process up');
    await this.ensureUp();
    await this.retry('clear faults', () => this.stack.admin.clearFaults());
    const settle = await this.settle(this.profile.settleBoundSec);
    await this.afterFinish();
    let afterResetsSec: number | null = null;
    if (this.profile.resetsAfterSettle > 0) {
      await this.resetFinished(this.profile.resetsAfterSettle, true, this.rng.fork('resets after settle'));
      const again = await this.settle(this.profile.settleBoundSec);
      afterResetsSec = again.timeToSettleSec;
      settle.parkedRetried += again.parkedRetried;
      settle.parkedCancelled += again.parkedCancelled;
    }
    this.running = false;
    await Promise.all(loops);

    // --- check --------------------------------------------------------------------------------------------
    this.note('checking invariants');
    const accepted = this.orders.filter((o) => o.orderId !== undefined);
    const invariants = await checkInvariants(stack, accepted, initialStock);
    this.violations.push(...invariants.violations);
    this.note(`replaying every history`);
    const replay = await replayAll(stack);
    for (const failure of replay.failures) {
      this.violations.push({
        invariant: 'history replays without a determinism error',
        orderId: failure.workflowId.replace(/^order-/, ''),
        detail: `${failure.runId}: ${failure.error}`,
      });
    }
    this.note(
      `done: ${this.violations.length} violation(s), ${replay.histories} histories replayed, ${replay.failures.length} failed`,
    );

    const byKind: Record<string, number> = {};
    for (const o of this.orders) this.count(byKind, o.kind);
    return {
      seed: this.seed,
      profile: this.profile.name,
      runtimeSec: Math.round((Date.now() - started) / 1000),
      orders: {
        driven: this.orders.length,
        accepted: accepted.length,
        byKind,
        byStatus: invariants.summary.byStatus,
        submissions: this.submissionCount,
        transientSubmitFailures: this.transientSubmitFailures,
      },
      faults: this.faults,
      operations: this.operations,
      settle: { ...settle, afterResetsSec, boundSec: this.profile.settleBoundSec },
      unexpectedExits: stack.unexpectedExits,
      violations: this.violations,
      invariants: invariants.summary,
      replay,
      timeline: this.timeline,
      dataDir,
    };
  }

  // --- orders ---------------------------------------------------------------------------------------------

  private async submitStream(): Promise<void> {
    const { orders, driveSec } = this.profile;
    // Orders arrive over the first 85% of the drive, some in bursts of 2-4 at the same moment.
    const span = driveSec * 850;
    let i = 0;
    while (i < orders) {
      const at = this.t0 + (i / orders) * span + this.orderRng.int(0, Math.floor(span / orders / 2));
      const burst = this.orderRng.chance(0.15) ? this.orderRng.int(2, 4) : 1;
      await sleep(Math.max(0, at - Date.now()));
      for (let b = 0; b < burst && i < orders; b++, i++) {
        const order = regularOrder(this.orderRng, `chaos-s${this.seed}-o${i}`, this.nextIndex++);
        this.orders.push(order);
        this.submissions.push(this.submit(order));
      }
    }
  }

  /** POST /orders (duplicates concurrently, same key and body); retry transient answers with the same key. */
  private async submit(order: TrackedOrder): Promise<void> {
    if (order.duplicates > 1)
      this.count(this.operations, 'duplicate submissions (concurrent, same key)', order.duplicates - 1);
    const answers = await Promise.all(Array.from({ length: order.duplicates }, () => this.post(order, order.body)));
    const ids = new Set(answers.map((a) => a.orderId));
    if (answers.some((a) => a.orderId === undefined)) {
      this.violations.push({
        invariant: "a valid order gets the workflow's answer (reserved, or out of stock)",
        detail: `key ${order.key}: ${answers.map((a) => `${a.status} ${a.detail ?? ''}`).join('; ')}`,
      });
    }
    if (ids.size > 1) {
      this.violations.push({
        invariant: 'one Idempotency-Key, one order',
        detail: `key ${order.key} answered with several orders: ${[...ids].join(', ')}`,
      });
    }
    if (new Set(answers.map((a) => a.status)).size > 1) {
      this.violations.push({
        invariant: 'one Idempotency-Key, one answer',
        detail: `key ${order.key}: ${answers.map((a) => a.status).join(', ')}`,
      });
    }
    const answer = answers.find((a) => a.orderId);
    if (answer?.orderId) {
      order.orderId = answer.orderId;
      order.outOfStock = answer.status === 409;
      order.acceptedAt = Date.now();
      this.byOrderId.set(answer.orderId, order);
      if (order.outOfStock) this.count(this.operations, 'orders refused on the spot (409 out-of-stock)');
    }
  }

  private async post(
    order: TrackedOrder,
    body: OrderBody,
    deadlineMs = 180_000,
  ): Promise<{ status: number; orderId?: string; replayed?: boolean; detail?: string }> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      order.submitAttempts += 1;
      this.submissionCount += 1;
      const r = await call(this.stack.apiUrl, 'POST', '/orders', {
        key: KEYS.customer,
        body,
        headers: { 'Idempotency-Key': order.key },
      });
      if (r.status === 202) {
        const json = r.json as { orderId: string };
        return { status: 202, orderId: json.orderId, replayed: r.headers?.get('idempotent-replayed') === 'true' };
      }
      // The workflow's own answer that there is not enough stock: final, and the order is recorded (CANCELLED).
      const problem = r.json as { type?: string; orderId?: string } | undefined;
      if (r.status === 409 && problem?.type === '/problems/out-of-stock' && problem.orderId) {
        return { status: 409, orderId: problem.orderId };
      }
      if (!transient(r.status) || Date.now() > deadline) {
        return { status: r.status, detail: r.error ?? JSON.stringify(r.json)?.slice(0, 300) };
      }
      this.transientSubmitFailures += 1;
      await sleep(1_000);
    }
  }

  // --- crew -----------------------------------------------------------------------------------------------

  private async crewLoop(): Promise<void> {
    while (this.running) {
      await sleep(800);
      const r = await call(this.stack.apiUrl, 'GET', '/harvest-tasks', { key: KEYS.crew });
      if (r.status !== 200) continue;
      const tasks = (r.json as { data: { id: string; orderId: string; lines: { sku: string; quantity: number }[] }[] })
        .data;
      for (const task of tasks) {
        if (this.crewHandled.has(task.id)) continue;
        this.crewHandled.add(task.id);
        // One stream per task: what a crew reports does not depend on when the run noticed the task.
        const rng = this.crewRng.fork(task.id);
        const yields = crewYields(rng, task.lines);
        const delay = rng.int(0, 2_500);
        void (async () => {
          await sleep(delay);
          const done = await call(this.stack.apiUrl, 'POST', `/harvest-tasks/${task.id}/complete`, {
            key: KEYS.crew,
            body: { yields },
          });
          if (done.status === 202) {
            const short = yields.some((y, i) => y.quantity < (task.lines[i]?.quantity ?? 0));
            this.count(this.operations, short ? 'harvests reported (partial yield)' : 'harvests reported (full)');
          } else if (transient(done.status)) {
            this.crewHandled.delete(task.id); // report again on the next round
          } else if (done.status !== 409) {
            this.violations.push({
              invariant: 'a crew report for an open task is accepted',
              orderId: task.orderId,
              detail: `${done.status} ${JSON.stringify(done.json)}`,
            });
          }
        })();
      }
    }
  }

  // --- cancels --------------------------------------------------------------------------------------------

  private async cancelLoop(): Promise<void> {
    while (this.running) {
      await sleep(400);
      const pending = this.orders.filter((o) => o.orderId && !o.outOfStock && o.cancel && !o.cancel.done);
      if (pending.length === 0) continue;
      let rows: { id: string; status: string; step: string; task: string | null; shipments: string | null }[];
      try {
        rows = (
          await this.stack.harvestDb.query<{
            id: string;
            status: string;
            step: string;
            task: string | null;
            shipments: string | null;
          }>(
            `SELECT o.id, o.status, o.step, t.status AS task,
                    (SELECT string_agg(s.status, ',') FROM shipments s WHERE s.order_id = o.id) AS shipments
             FROM orders o LEFT JOIN harvest_tasks t ON t.order_id = o.id WHERE o.id = ANY($1)`,
            [pending.map((o) => o.orderId)],
          )
        ).rows;
      } catch {
        continue; // PostgreSQL is down; try again
      }
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const order of pending) {
        const plan = order.cancel!;
        const row = byId.get(order.orderId!);
        const finished = row !== undefined && (TERMINAL_STATUSES as readonly string[]).includes(row.status);
        const now = Date.now();
        let fire: 'api' | 'cli' | undefined;
        switch (plan.mode) {
          case 'soon':
            if (now >= (order.acceptedAt ?? now) + plan.delayMs) fire = 'api';
            break;
          case 'harvest-wait':
            if (row?.task === 'OPEN' || finished) fire = 'api';
            break;
          case 'during-charge':
            if (row?.step === 'pack' || finished) fire = 'api';
            break;
          case 'during-booking':
            if (row?.step === 'charge' || row?.step === 'book-carrier' || finished) fire = 'api';
            break;
          case 'late':
            if (row?.shipments?.includes('PICKED_UP') || finished) fire = 'cli';
            break;
          case 'after-finish':
            if (finished) fire = 'api';
            break;
        }
        if (!fire) continue;
        plan.done = true;
        void this.sendCancel(order, fire, finished, row?.step ?? 'received');
      }
    }
  }

  private async sendCancel(order: TrackedOrder, via: 'api' | 'cli', finished: boolean, step: string): Promise<void> {
    const plan = order.cancel!;
    const orderId = order.orderId!;
    if (via === 'cli') {
      try {
        await this.stack.cli([
          'workflow',
          'signal',
          '--workflow-id',
          orderWorkflowId(orderId),
          '--name',
          cancelOrderSignal.name,
          '--input',
          JSON.stringify({ reason: 'chaos: late cancel', requestedBy: 'ops:chaos' }),
        ]);
        plan.outcome = 'signalled';
        this.count(this.operations, `cancels: ${plan.mode} (temporal CLI signal)`);
      } catch (error) {
        plan.outcome = /completed|not found/i.test(String(error))
          ? 'workflow already closed'
          : `failed: ${String(error)}`;
        this.count(this.operations, `cancels: ${plan.mode} (CLI, workflow already closed)`);
      }
      return;
    }
    for (let attempt = 0; attempt < 30; attempt++) {
      const r = await call(this.stack.apiUrl, 'POST', `/orders/${orderId}/cancel`, {
        key: KEYS.customer,
        body: { reason: `chaos: ${plan.mode} at ${step}` },
      });
      if (r.status === 202 || r.status === 409) {
        plan.answered = r.status;
        plan.refusal = r.status === 409 ? (r.json as { type?: string })?.type : undefined;
        plan.outcome = r.status === 202 ? 'accepted' : `refused (${plan.refusal ?? ''})`;
        this.count(this.operations, `cancels: ${plan.mode} -> ${r.status}`);
        if (plan.mode === 'after-finish' && finished && r.status === 202) {
          this.violations.push({
            invariant: 'a finished order cannot be cancelled',
            orderId,
            detail: 'POST /orders/:id/cancel answered 202 for a finished order',
          });
        }
        return;
      }
      if (!transient(r.status)) {
        plan.outcome = `unexpected ${r.status}`;
        this.violations.push({
          invariant: 'cancel answers 202 or 409',
          orderId,
          detail: `${r.status} ${JSON.stringify(r.json)}`,
        });
        return;
      }
      await sleep(1_000);
    }
    plan.outcome = 'gave up (transient errors)';
  }

  // --- faults ---------------------------------------------------------------------------------------------

  /** The seeded schedule: every action kind its profile count, shuffled, spread over the drive with jitter. */
  private async runActions(): Promise<void> {
    const kinds: ActionKind[] = [];
    for (const [kind, n] of Object.entries(this.profile.actions) as [ActionKind, number][]) {
      for (let i = 0; i < n; i++) kinds.push(kind);
    }
    this.faultRng.shuffle(kinds);
    // The phases that broke things before come first, so a short run with few phases still meets them.
    const core = [
      'payments 40% errors+timeouts',
      'primary answers lost',
      'primary outage + backup errors',
      'notification errors',
    ];
    const rest = Object.keys(PROVIDER_PHASES).filter((p) => p !== 'calm' && !core.includes(p));
    const phases = [...this.faultRng.shuffle(core), ...this.faultRng.shuffle(rest)];
    let phase = 0;
    const slot = (this.profile.driveSec * 1000) / (kinds.length + 1);
    // Every draw happens here, up front: each action gets its own stream, so what one action does at run time
    // (a fallback, a retry) never shifts another's choices.
    const times = kinds.map(
      (_, i) => this.t0 + (i + 1) * slot + this.faultRng.int(-Math.floor(slot / 3), Math.floor(slot / 3)),
    );
    const rngs = kinds.map((kind, i) => this.faultRng.fork(`${i}:${kind}`));
    for (let i = 0; i < kinds.length; i++) {
      await sleep(Math.max(0, times[i]! - Date.now()));
      const rng = rngs[i]!;
      const kind = kinds[i]!;
      try {
        switch (kind) {
          case 'worker-kill':
            await this.killWorker(rng);
            break;
          case 'worker-kill-after-charge':
            await this.killWorkerAfterCharge(rng);
            break;
          case 'temporal-kill':
            await this.killTemporal(rng);
            break;
          case 'pg-terminate':
            await this.terminateConnections(rng);
            break;
          case 'pg-restart':
            await this.restartPostgres(rng);
            break;
          case 'inventory-errors':
            await this.inventoryErrors(rng, i);
            break;
          case 'provider-phase':
            await this.providerPhase(phases[phase++ % phases.length]!, rng);
            break;
          case 'last-units':
            await this.lastUnits(rng, i);
            break;
          case 'reset':
            await this.resetFinished(rng.int(1, 3), false, rng);
            break;
        }
      } catch (error) {
        this.note(`action ${kind} failed: ${error instanceof Error ? error.message : String(error)}`);
        await this.ensureUp();
      }
    }
    await this.providerPhase('calm', this.faultRng.fork('calm'));
  }

  private async killWorker(rng: Prng): Promise<void> {
    const worker = rng.pick(this.stack.workers);
    const downMs = rng.int(500, 4_000);
    this.note(`SIGKILL ${worker.name} (pid ${worker.pid}); restart in ${downMs} ms`);
    await worker.kill('SIGKILL');
    this.count(this.faults, 'worker SIGKILL (random moment)');
    await sleep(downMs);
    worker.start();
  }

  /**
   * Kill the worker inside chargeOrder after the gateway committed the charge and before the activity
   * recorded it: the gateway holds its answer back (timeoutNext), and as soon as a succeeded charge shows up
   * in the sandbox for an order without a payment row, the worker running that attempt is SIGKILLed.
   * Most of the time the customer also cancels that order right then.
   */
  private async killWorkerAfterCharge(rng: Prng): Promise<void> {
    const hangSeed = rng.int(1, 1_000_000);
    const cancelToo = rng.chance(0.6);
    const downMs = rng.int(500, 3_000);
    const fallback = rng.pick(this.stack.workers);
    await this.stack.admin.setFaults({ payments: { timeoutNext: 3, hangMs: 30_000 }, seed: hangSeed });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      await sleep(100);
      const found = await this.chargedWithoutPaymentRow().catch(() => undefined);
      if (!found) continue;
      const pid = await this.pendingActivityWorkerPid(found, 'chargeOrder');
      const worker = this.stack.workers.find((w) => w.pid === pid) ?? fallback;
      this.note(
        `order ${found} charged at the gateway, answer in flight: SIGKILL ${worker.name} (pid ${worker.pid})` +
          (cancelToo ? ' and cancel the order' : ''),
      );
      await worker.kill('SIGKILL');
      this.count(this.faults, 'worker SIGKILL (charged at gateway, answer in flight)');
      if (cancelToo) {
        const order = this.byOrderId.get(found);
        if (order) {
          order.cancel = { mode: 'during-charge', delayMs: 0, done: true };
          void this.sendCancel(order, 'api', false, 'pack');
        }
      }
      await sleep(downMs);
      worker.start();
      return;
    }
    this.note('no charge in flight within 30 s: killing a worker at a random moment instead');
    await this.killWorker(rng);
  }

  private async chargedWithoutPaymentRow(): Promise<string | undefined> {
    const charged = await this.stack.sandboxDb.query<{ order_id: string }>(
      `SELECT order_id FROM sandbox.stripe_payment_intents
       WHERE status = 'succeeded' AND order_id IS NOT NULL AND created_at > now() - interval '20 seconds'`,
    );
    if (charged.rows.length === 0) return undefined;
    const ids = charged.rows.map((r) => r.order_id);
    const paid = await this.stack.harvestDb.query<{ order_id: string }>(
      'SELECT order_id FROM payments WHERE order_id = ANY($1)',
      [ids],
    );
    const paidIds = new Set(paid.rows.map((r) => r.order_id));
    return ids.find((id) => !paidIds.has(id) && this.byOrderId.has(id));
  }

  /** The pid of the worker running an activity of the order's workflow, from its identity `<pid>@<host>`. */
  private async pendingActivityWorkerPid(orderId: string, activityType: string): Promise<number | undefined> {
    try {
      const description = await this.stack.client.workflow.getHandle(orderWorkflowId(orderId)).describe();
      const pending = description.raw.pendingActivities?.find((a) => a.activityType?.name === activityType);
      const identity = pending?.lastWorkerIdentity ?? '';
      const pid = Number.parseInt(identity.split('@')[0] ?? '', 10);
      return Number.isFinite(pid) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  private async killTemporal(rng: Prng): Promise<void> {
    const downMs = rng.int(1_000, 5_000);
    this.note(
      `SIGKILL temporal dev server (pid ${this.stack.temporal.pid}); restart in ${downMs} ms on the same db file`,
    );
    await this.stack.temporal.kill('SIGKILL');
    this.count(this.faults, 'temporal SIGKILL');
    await sleep(downMs);
    await this.stack.startTemporal();
    await this.stack.waitForNamespace(60_000);
    this.note('temporal back');
  }

  private async terminateConnections(rng: Prng): Promise<void> {
    const rounds = rng.int(1, 4);
    let total = 0;
    for (let i = 0; i < rounds; i++) {
      total += await this.stack.terminateConnections();
      await sleep(rng.int(150, 800));
    }
    this.note(`pg_terminate_backend: ${total} app connections terminated in ${rounds} round(s)`);
    this.count(this.faults, 'postgres: app connections terminated (bursts)');
    this.count(this.faults, 'postgres: backends terminated', total);
  }

  private async restartPostgres(rng: Prng): Promise<void> {
    const mode = rng.chance(0.6) ? 'kill' : 'fast';
    const downMs = rng.int(500, 4_000);
    this.note(`PostgreSQL ${mode === 'kill' ? 'SIGKILL (postmaster and backends)' : 'fast stop'}; down ${downMs} ms`);
    await this.stack.killPostgres(mode);
    this.count(this.faults, mode === 'kill' ? 'postgres SIGKILL + restart' : 'postgres fast stop + restart');
    await sleep(downMs);
    await this.stack.startPostgres();
    this.note('PostgreSQL back');
  }

  /** "Inventory service errors": a burst of orders, then the database connections cut while they reserve. */
  private async inventoryErrors(rng: Prng, action: number): Promise<void> {
    const n = rng.int(3, 6);
    const burst: TrackedOrder[] = [];
    for (let i = 0; i < n; i++) {
      const order = regularOrder(rng, `chaos-s${this.seed}-a${action}-${i}`, this.nextIndex++);
      order.kind = 'reservation-burst';
      order.duplicates = 1;
      delete order.cancel;
      burst.push(order);
      this.orders.push(order);
      this.submissions.push(this.submit(order));
    }
    let total = 0;
    for (let i = 0; i < 4; i++) {
      await sleep(rng.int(100, 400));
      total += await this.stack.terminateConnections();
    }
    this.note(`inventory errors: ${n} orders submitted, ${total} DB connections cut while they reserve`);
    this.count(this.faults, 'inventory errors (DB connections cut during reservations)');
    this.count(this.faults, 'postgres: backends terminated', total);
  }

  private async providerPhase(name: string, rng: Prng): Promise<void> {
    const faultSeed = rng.int(1, 1_000_000);
    await this.stack.admin.clearFaults();
    if (name !== 'calm') await this.stack.admin.setFaults({ ...PROVIDER_PHASES[name], seed: faultSeed });
    this.note(`provider faults: ${name}`);
    if (name !== 'calm') this.count(this.faults, `provider phase: ${name}`);
  }

  /** Add a few units of a product nobody has, then race twice as many orders for them. */
  private async lastUnits(rng: Prng, action: number): Promise<void> {
    const units = rng.int(2, 5);
    const r = await call(this.stack.apiUrl, 'POST', `/admin/products/${LAST_UNITS_SKU}/adjust`, {
      key: KEYS.admin,
      body: { delta: units, reason: 'chaos: last units' },
    });
    if (r.status !== 200) throw new Error(`admin adjust answered ${r.status} ${JSON.stringify(r.json)}`);
    const n = units * 2 + rng.int(1, 3);
    for (let i = 0; i < n; i++) {
      const order = lastUnitsOrder(rng, `chaos-s${this.seed}-a${action}-${i}`, this.nextIndex++);
      this.orders.push(order);
      this.submissions.push(this.submit(order));
    }
    this.note(`last units: +${units} ${LAST_UNITS_SKU} (admin), ${n} concurrent orders race for them`);
    this.count(this.faults, 'last-units races (admin adjust + concurrent orders)');
  }

  /** Reset finished runs to their first workflow task with the temporal CLI, varied outcomes first. */
  private async resetFinished(n: number, afterSettle: boolean, rng: Prng): Promise<void> {
    let rows: { id: string; status: string; outcome_reason: string | null }[];
    try {
      rows = (
        await this.stack.harvestDb.query<{ id: string; status: string; outcome_reason: string | null }>(
          `SELECT id, status, outcome_reason FROM orders WHERE status IN ('COMPLETED', 'CANCELLED', 'FAILED') ORDER BY id`,
        )
      ).rows;
    } catch {
      return;
    }
    // Group by outcome (status + first words of the reason) and take from each group in turn.
    const groups = new Map<string, string[]>();
    for (const row of rows) {
      const order = this.byOrderId.get(row.id);
      if (!order || order.resets >= 2) continue;
      // Outcome, plus how the order was cancelled: a refused late cancel is re-applied by the reset, for one.
      const key = `${row.status}:${(row.outcome_reason ?? '').split(/[:(]/)[0]?.slice(0, 40)}:${order.cancel?.mode ?? ''}`;
      groups.set(key, [...(groups.get(key) ?? []), row.id]);
    }
    const keys = rng.shuffle([...groups.keys()].sort());
    const chosen: string[] = [];
    for (let round = 0; chosen.length < n && round < 50; round++) {
      for (const key of keys) {
        const ids = groups.get(key)!;
        if (ids.length > 0 && chosen.length < n) chosen.push(ids.splice(rng.int(0, ids.length - 1), 1)[0]!);
      }
      if (keys.every((k) => groups.get(k)!.length === 0)) break;
    }
    for (const orderId of chosen) {
      try {
        await this.stack.cli([
          'workflow',
          'reset',
          '--workflow-id',
          orderWorkflowId(orderId),
          '--type',
          'FirstWorkflowTask',
          '--reason',
          'chaos',
          '-y',
        ]);
        this.byOrderId.get(orderId)!.resets += 1;
        this.count(this.faults, afterSettle ? 'reset of a finished run (after settle)' : 'reset of a finished run');
      } catch (error) {
        this.note(`reset of ${orderId} failed: ${String(error).split('\n')[0]}`);
      }
    }
    if (chosen.length > 0)
      this.note(`reset ${chosen.length} finished run(s) to FirstWorkflowTask: ${chosen.join(', ')}`);
  }

  /** Bring back anything the schedule left down (it restarts what it kills, but an action may have failed). */
  private async ensureUp(): Promise<void> {
    if (this.stack.pgDown) await this.stack.startPostgres();
    if (!this.stack.temporal.running) {
      await this.stack.startTemporal();
      await this.stack.waitForNamespace(60_000);
    }
    for (const proc of [this.stack.sandbox, ...this.stack.workers, this.stack.api]) if (!proc.running) proc.start();
    await this.stack.waitForWorkerPolling(60_000);
  }

  private async retry<T>(what: string, fn: () => Promise<T>, attempts = 30): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await fn();
      } catch (error) {
        if (i >= attempts) throw new Error(`${what}: ${String(error)}`, { cause: error });
        await sleep(1_000);
      }
    }
  }

  // --- settle ---------------------------------------------------------------------------------------------

  /**
   * Wait until every accepted order is finished and no workflow runs. Parked orders (NEEDS_ATTENTION) get an
   * operator decision: mostly retryCarrierBooking, sometimes a cancel.
   */
  private async settle(boundSec: number): Promise<{
    timeToQuiesceSec: number | null;
    timeToSettleSec: number | null;
    parkedRetried: number;
    parkedCancelled: number;
  }> {
    const start = Date.now();
    const deadline = start + boundSec * 1000;
    const decided = new Map<string, number>();
    let quiesced: number | null = null;
    let parkedRetried = 0;
    let parkedCancelled = 0;
    const ids = this.orders.filter((o) => o.orderId).map((o) => o.orderId!);
    for (;;) {
      let rows: { id: string; status: string; step: string }[];
      let running: number;
      try {
        rows = (
          await this.stack.harvestDb.query<{ id: string; status: string; step: string }>(
            'SELECT id, status, step FROM orders WHERE id = ANY($1)',
            [ids],
          )
        ).rows;
        running = (await this.stack.client.workflow.count('ExecutionStatus="Running"')).count;
      } catch {
        await sleep(2_000);
        continue;
      }
      const terminal = (s: string) => (TERMINAL_STATUSES as readonly string[]).includes(s);
      const open = rows.filter((r) => !terminal(r.status));
      const parked = open.filter((r) => r.status === ('NEEDS_ATTENTION' satisfies OrderStatus));
      if (quiesced === null && rows.length === ids.length && open.length === parked.length) quiesced = Date.now();
      if (rows.length === ids.length && open.length === 0 && running === 0) {
        const took = Math.round((Date.now() - start) / 100) / 10;
        this.note(`settled: ${rows.length} orders finished in ${took}s`);
        return {
          timeToQuiesceSec: quiesced === null ? null : Math.round((quiesced - start) / 100) / 10,
          timeToSettleSec: took,
          parkedRetried,
          parkedCancelled,
        };
      }
      for (const row of parked) {
        const at = decided.get(row.id);
        if (at !== undefined && Date.now() - at < 20_000) continue;
        decided.set(row.id, Date.now());
        const handle = this.stack.client.workflow.getHandle(orderWorkflowId(row.id));
        try {
          if (this.cancelRng.fork(`${row.id}:${parkedRetried + parkedCancelled}`).chance(0.25)) {
            await handle.signal(cancelOrderSignal, {
              reason: 'chaos: parked, operator cancels',
              requestedBy: 'ops:chaos',
            });
            parkedCancelled += 1;
          } else {
            await handle.signal(retryCarrierBookingSignal, { requestedBy: 'ops:chaos' });
            parkedRetried += 1;
          }
        } catch {
          decided.delete(row.id);
        }
      }
      if (Date.now() > deadline) {
        const missing = ids.filter((id) => !rows.some((r) => r.id === id));
        for (const row of open) {
          this.violations.push({
            invariant: `every order finishes within ${boundSec}s of the faults stopping`,
            orderId: row.id,
            detail: `still ${row.status} at step ${row.step}`,
          });
        }
        for (const id of missing) {
          this.violations.push({
            invariant: 'every accepted order is recorded',
            orderId: id,
            detail: 'no orders row',
          });
        }
        if (open.length === 0 && missing.length === 0) {
          this.violations.push({
            invariant: `every workflow closes within ${boundSec}s of the faults stopping`,
            detail: `${running} execution(s) still running`,
          });
        }
        this.note(
          `NOT settled after ${boundSec}s: ${open.length} open, ${missing.length} unrecorded, ${running} running`,
        );
        return { timeToQuiesceSec: null, timeToSettleSec: null, parkedRetried, parkedCancelled };
      }
      await sleep(2_000);
    }
  }

  /** Once everything finished: duplicates of finished orders, a reused key with another body, late cancels. */
  private async afterFinish(): Promise<void> {
    const accepted = this.orders.filter((o) => o.orderId);
    const sample = this.rng
      .fork('after finish')
      .shuffle([...accepted].sort((a, b) => (a.key < b.key ? -1 : 1)))
      .slice(0, Math.max(3, Math.round(accepted.length * 0.1)));
    for (const order of sample) {
      const again = await this.post(order, order.body, 30_000);
      this.count(this.operations, 'duplicate submissions (after the order finished)');
      // The same answer as the first time: the order, replayed; or the same out-of-stock refusal.
      const same = order.outOfStock ? again.status === 409 : again.replayed === true;
      if (again.orderId !== order.orderId || !same) {
        this.violations.push({
          invariant: 'one Idempotency-Key, one order',
          orderId: order.orderId,
          detail: `re-POST after finish answered ${again.status} ${again.orderId ?? ''} replayed=${String(again.replayed)}`,
        });
      }
    }
    for (const order of sample.slice(0, Math.max(1, Math.round(sample.length / 3)))) {
      const other: OrderBody = { ...order.body, lines: [{ sku: 'POT-YUKON', quantity: 7 }] };
      const r = await this.post(order, other, 30_000);
      this.count(this.operations, 'key reused with another body');
      if (r.status !== 422) {
        this.violations.push({
          invariant: 'a key reused with another body is refused',
          orderId: order.orderId,
          detail: `answered ${r.status} ${r.orderId ?? ''}`,
        });
      }
    }
  }
}

/**
 * Record workflow histories for the replay tests (test/replay/replay.test.ts).
 *
 *   npm run replay:record                     # every scenario (= node --import tsx scripts/record-histories.ts)
 *   npm run replay:record -- happy-path ...   # only the named scenarios
 *
 * Each scenario runs one order through the real workflow and the real activities on the
 * time-skipping test server, PostgreSQL (a throwaway embedded cluster) and the provider sandbox -
 * the same harness the workflow tests use - checks that it ended the way the scenario intends, and
 * writes the run's event history to test/replay/histories/<scenario>.json. The replay test then
 * replays every file against the current workflow code and fails on any nondeterminism.
 *
 * The histories are written as Temporal stores them: encrypted by the payload codec (src/codec) with the public test
 * key that ships beside them (test/replay/histories/test-payload-keys.txt), which the harness's client and worker use
 * and the replay test decodes with. No customer data lands in the fixtures in plain text.
 *
 * WHEN TO RE-RECORD. The committed histories stand for runs in flight on the current worker build: a workflow change
 * that fails to replay them would break those runs (orders move to a new build while they wait: the worker
 * deployment's versioning behaviour is AUTO_UPGRADE). So a change to src/workflows that waiting orders will meet
 * goes behind `patched('<change-id>')`, and before the new build is rolled out the histories of the build still
 * running are kept: move them to test/replay/histories/<build-id>/ (replayed too, never re-recorded) and record
 * the new behaviour here. Better still, replay real histories exported from the cluster
 * (`temporal workflow show --workflow-id ... --output json > test/replay/histories/<build-id>/<name>.json`).
 * README, "Shipping a change to the workflow", has the whole procedure.
 *
 * Orders are placed as `POST /orders` places them (update-with-start with the `placeOrder` Update). Messages go as
 * Updates (what the API sends), except where a scenario records the signal of a `temporal workflow signal` recipe.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startPostgres } from '../src/db/postgres-server';
import { freePort } from '../src/lib/net';
import {
  cancelOrderSignal,
  cancelOrderUpdate,
  harvestCompletedSignal,
  harvestTaskId,
  reportHarvestUpdate,
  retryCarrierBookingUpdate,
  statusQuery,
  type HarvestYield,
  type OrderInput,
  type OrderStatusView,
} from '../src/workflows/definitions';
import type { Activities } from '../src/activities';
import { historyToJSONText } from '../test/replay/history-json';
import { createWorkflowHarness, waitForStatus, type WorkflowHarness } from '../test/support/workflow-harness';

export const HISTORIES_DIR = path.resolve(__dirname, '..', 'test', 'replay', 'histories');

type Handle = Parameters<Parameters<WorkflowHarness['run']>[1]>[0];

/** How a scenario must end: a result status, or a failure of a business type; plus the final status query. */
interface Expected {
  result?: 'COMPLETED' | 'CANCELLED';
  failureType?: string;
  status: OrderStatusView['status'];
}

interface Scenario {
  name: string;
  /** What the recorded run exercises. */
  description: string;
  input?: Partial<OrderInput>;
  activities?: (real: Activities) => Partial<Activities>;
  /** Drive the order (signals, faults) and return its outcome: `handle.result()` or its rejection. */
  drive: (h: WorkflowHarness, handle: Handle, input: OrderInput) => Promise<unknown>;
  expected: Expected;
}

const fullYield = (input: OrderInput): HarvestYield[] => input.lines.map((l) => ({ sku: l.sku, quantity: l.quantity }));

/** The crew's report, as the API sends it (an Update), or as the CLI recipe sends it (a signal). */
async function reportHarvest(
  handle: Handle,
  input: OrderInput,
  yields = fullYield(input),
  via: 'update' | 'signal' = 'update',
): Promise<void> {
  await waitForStatus(handle, (v) => v.status === 'AWAITING_HARVEST');
  const report = { taskId: harvestTaskId(input.orderId), yields, reportedBy: 'crew:recorder' };
  if (via === 'update') await handle.executeUpdate(reportHarvestUpdate, { args: [report] });
  else await handle.signal(harvestCompletedSignal, report);
}

/**
 * Wait until every activity result has been handed to the workflow and no workflow task is pending.
 * A cancel that lands while an activity is completing makes the time-skipping test server reject
 * the workflow task ("ACTIVITY_UNKNOWN") and the run stalls, so cancels wait for this.
 */
async function waitUntilIdle(handle: Handle, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = (await handle.fetchHistory()).events ?? [];
    const closed = new Set<string>();
    let lastClose = -1;
    let lastTaskCompleted = -1;
    let lastTaskScheduled = -1;
    events.forEach((e, index) => {
      const end =
        e.activityTaskCompletedEventAttributes ??
        e.activityTaskFailedEventAttributes ??
        e.activityTaskTimedOutEventAttributes ??
        e.activityTaskCanceledEventAttributes;
      if (end) {
        closed.add(String(end.scheduledEventId));
        lastClose = index;
      }
      if (e.workflowTaskCompletedEventAttributes) lastTaskCompleted = index;
      if (e.workflowTaskScheduledEventAttributes) lastTaskScheduled = index;
    });
    const allClosed = events.every((e) => !e.activityTaskScheduledEventAttributes || closed.has(String(e.eventId)));
    if (allClosed && lastTaskCompleted > lastClose && lastTaskCompleted > lastTaskScheduled) return;
    if (Date.now() > deadline) throw new Error(`workflow ${handle.workflowId} never became idle`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Both carriers are down: each burns its retry budget (in real time), then the order parks. */
async function parkWithOutage(h: WorkflowHarness, handle: Handle, input: OrderInput): Promise<void> {
  await h.admin.setFaults({ primary: { outage: true }, backup: { outage: true } });
  await reportHarvest(handle, input);
  await waitForStatus(handle, (v) => v.status === 'NEEDS_ATTENTION', 60_000);
}

/** Holds the carrier hand-over of the scenario that cancels during it. */
const handOver = (() => {
  let release!: () => void;
  let markEntered!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const entered = new Promise<void>((resolve) => (markEntered = resolve));
  return { release, released, entered, markEntered };
})();

export const SCENARIOS: Scenario[] = [
  {
    name: 'happy-path',
    description: 'full harvest, charged, primary carrier, picked up, notified',
    drive: async (_h, handle, input) => {
      await reportHarvest(handle, input);
      return handle.result();
    },
    expected: { result: 'COMPLETED', status: 'COMPLETED' },
  },
  {
    name: 'out-of-stock',
    description: 'reserve-inventory refuses a line; release-reservation compensates',
    input: {
      lines: [
        { sku: 'LET-BUTTER', quantity: 1 },
        { sku: 'TOM-HEIRLOOM', quantity: 100_000 },
      ],
    },
    drive: async (_h, handle) => handle.result(),
    expected: { failureType: 'OutOfStock', status: 'CANCELLED' },
  },
  {
    name: 'harvest-timeout',
    description: 'the crew never reports; the harvest window timer fires',
    drive: async (_h, handle) => {
      await waitForStatus(handle, (v) => v.status === 'AWAITING_HARVEST');
      return handle.result(); // awaiting the result lets the test server skip the days of waiting
    },
    expected: { failureType: 'HarvestTimedOut', status: 'CANCELLED' },
  },
  {
    name: 'payment-declined',
    description: 'the card is declined; unpack, cancel-harvest and release-reservation compensate',
    input: { paymentMethod: 'pm_card_chargeDeclined' },
    drive: async (_h, handle, input) => {
      await reportHarvest(handle, input);
      return handle.result();
    },
    expected: { failureType: 'PaymentDeclined', status: 'CANCELLED' },
  },
  {
    name: 'primary-carrier-down',
    description: 'the primary carrier exhausts its retries; the backup carrier books',
    drive: async (h, handle, input) => {
      await h.admin.setFaults({ primary: { outage: true } });
      await reportHarvest(handle, input);
      return handle.result();
    },
    expected: { result: 'COMPLETED', status: 'COMPLETED' },
  },
  {
    name: 'both-carriers-down-operator-retry',
    description: 'both carriers fail, the order parks in NEEDS_ATTENTION, an operator retries after recovery',
    drive: async (h, handle, input) => {
      await parkWithOutage(h, handle, input);
      await h.admin.clearFaults();
      await handle.executeUpdate(retryCarrierBookingUpdate, {
        args: [{ requestedBy: 'ops:recorder', note: 'carriers back up' }],
      });
      return handle.result();
    },
    expected: { result: 'COMPLETED', status: 'COMPLETED' },
  },
  {
    name: 'parked-timeout',
    description: 'both carriers fail and no operator decides within the parking time; everything is compensated',
    drive: async (h, handle, input) => {
      await parkWithOutage(h, handle, input);
      return handle.result();
    },
    expected: { failureType: 'ParkedTimedOut', status: 'CANCELLED' },
  },
  {
    name: 'cancel-during-harvest-wait',
    description: 'a cancelOrder Update while waiting for the crew; the waiting scope is cancelled and compensated',
    drive: async (_h, handle) => {
      await waitForStatus(handle, (v) => v.status === 'AWAITING_HARVEST');
      await handle.executeUpdate(cancelOrderUpdate, {
        args: [{ reason: 'changed my mind', requestedBy: 'customer:cust-demo' }],
      });
      return handle.result();
    },
    expected: { result: 'CANCELLED', status: 'CANCELLED' },
  },
  {
    name: 'cancel-signal-after-pickup',
    description: 'a cancelOrder signal (the CLI recipe) while the parcel is handed over: refused and recorded',
    activities: (real) => ({
      confirmPickup: async (args) => {
        handOver.markEntered();
        await handOver.released;
        return real.confirmPickup(args);
      },
    }),
    drive: async (_h, handle, input) => {
      await reportHarvest(handle, input, fullYield(input), 'signal');
      await handOver.entered;
      await handle.signal(cancelOrderSignal, { reason: 'too late', requestedBy: 'ops:recorder' });
      await waitForStatus(handle, (v) => v.cancelRequest !== undefined);
      handOver.release();
      return handle.result();
    },
    expected: { result: 'COMPLETED', status: 'COMPLETED' },
  },
  {
    name: 'partial-yield-accepted',
    description: 'the crew harvests less than ordered and the order accepts partial fulfilment',
    input: {
      acceptPartial: true,
      lines: [
        { sku: 'TOM-HEIRLOOM', quantity: 4 },
        { sku: 'LET-BUTTER', quantity: 2 },
      ],
    },
    drive: async (_h, handle, input) => {
      const yields = [
        { sku: 'TOM-HEIRLOOM', quantity: 3 },
        { sku: 'LET-BUTTER', quantity: 0 },
      ];
      await reportHarvest(handle, input, yields, 'signal');
      return handle.result();
    },
    expected: { result: 'COMPLETED', status: 'COMPLETED' },
  },
  {
    name: 'partial-yield-refused',
    description: 'the crew harvests less than ordered and the order refuses partial fulfilment',
    drive: async (_h, handle, input) => {
      await reportHarvest(handle, input, [
        { sku: 'TOM-HEIRLOOM', quantity: 1 },
        { sku: 'LET-BUTTER', quantity: 1 },
      ]);
      return handle.result();
    },
    expected: { failureType: 'PartialYieldRefused', status: 'CANCELLED' },
  },
  {
    name: 'notification-failed',
    description: 'the confirmation cannot be sent; the shipped order still completes and records the failure',
    drive: async (h, handle, input) => {
      await h.admin.setFaults({ notifications: { outage: true } });
      await reportHarvest(handle, input);
      return handle.result();
    },
    expected: { result: 'COMPLETED', status: 'COMPLETED' },
  },
  {
    name: 'compensation-failed',
    description: 'parked and cancelled, but the refund keeps failing; the order ends FAILED for an operator',
    activities: () => ({
      refundOrder: async () => {
        throw new Error('payments database unreachable (recorded scenario)');
      },
    }),
    drive: async (h, handle, input) => {
      await h.admin.setFaults({ primary: { refuseNext: 1 }, backup: { refuseNext: 1 } });
      await reportHarvest(handle, input);
      await waitForStatus(handle, (v) => v.status === 'NEEDS_ATTENTION');
      await waitUntilIdle(handle);
      await handle.signal(cancelOrderSignal, { reason: 'no carrier, no deal', requestedBy: 'ops:recorder' });
      return handle.result();
    },
    expected: { status: 'FAILED' },
  },
];

/** Check the run ended as the scenario intends; a recording of the wrong behaviour is worse than none. */
function check(scenario: Scenario, outcome: { value?: unknown; error?: unknown }, view: OrderStatusView): void {
  const { expected } = scenario;
  const problems: string[] = [];
  if (expected.result) {
    const status = (outcome.value as { status?: string } | undefined)?.status;
    if (status !== expected.result)
      problems.push(`result ${status ?? String(outcome.error)}, expected ${expected.result}`);
  }
  if (expected.failureType) {
    const cause = outcome.error instanceof WorkflowFailedError ? outcome.error.cause : undefined;
    const type = cause instanceof ApplicationFailure ? cause.type : undefined;
    if (type !== expected.failureType)
      problems.push(`failure ${type ?? JSON.stringify(outcome.value)}, expected ${expected.failureType}`);
  }
  if (view.status !== expected.status) problems.push(`status ${view.status}, expected ${expected.status}`);
  if (problems.length > 0)
    throw new Error(`Scenario ${scenario.name} did not behave as intended: ${problems.join('; ')}`);
}

/** A stalled scenario fails the recording instead of hanging it. */
const SCENARIO_TIMEOUT_MS = 120_000;

function withTimeout<T>(what: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function record(h: WorkflowHarness, scenario: Scenario): Promise<string> {
  await h.admin.clearFaults();
  const input = h.order({ orderId: `replay-${scenario.name}`, ...scenario.input });
  const { history, outcome, view } = await withTimeout(
    `scenario ${scenario.name}`,
    h.place(
      input,
      async (handle) => {
        const outcome = await scenario.drive(h, handle, input).then(
          (value) => ({ value }),
          (error: unknown) => ({ error }),
        );
        return { outcome, view: await handle.query(statusQuery), history: await handle.fetchHistory() };
      },
      { activities: scenario.activities },
    ),
    SCENARIO_TIMEOUT_MS,
  );
  await h.admin.clearFaults();
  check(scenario, outcome, view);
  const file = path.join(HISTORIES_DIR, `${scenario.name}.json`);
  fs.writeFileSync(file, historyToJSONText(history));
  return file;
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const unknown = only.filter((name) => !SCENARIOS.some((s) => s.name === name));
  if (unknown.length > 0) {
    throw new Error(`Unknown scenario(s): ${unknown.join(', ')}. Known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  }
  const selected = only.length > 0 ? SCENARIOS.filter((s) => only.includes(s.name)) : SCENARIOS;

  // Quiet: failing activities are part of most scenarios, and would each be logged with a stack.
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
  });
  // A throwaway PostgreSQL, as the Jest global setup gives the tests.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'htd-record-pg-'));
  const pg = await startPostgres({ dataDir, port: await freePort() });
  process.env.HTD_TEST_PG_ADMIN_URL = pg.url();
  const abort = (signal: NodeJS.Signals) => {
    console.error(`${signal}: stopping PostgreSQL; nothing more is recorded`);
    void pg.stop().finally(() => {
      fs.rmSync(dataDir, { recursive: true, force: true });
      process.exit(1);
    });
  };
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  let h: WorkflowHarness | undefined;
  try {
    h = await createWorkflowHarness();
    fs.mkdirSync(HISTORIES_DIR, { recursive: true });
    for (const scenario of selected) {
      const started = Date.now();
      const file = await record(h, scenario);
      console.log(
        `recorded ${scenario.name} (${scenario.description}) in ${Date.now() - started} ms -> ${path.relative(process.cwd(), file)}`,
      );
    }
    if (only.length === 0) {
      // A full recording is the whole set: drop files of scenarios that no longer exist.
      const known = new Set(SCENARIOS.map((s) => `${s.name}.json`));
      for (const file of fs.readdirSync(HISTORIES_DIR)) {
        if (file.endsWith('.json') && !known.has(file)) {
          fs.rmSync(path.join(HISTORIES_DIR, file));
          console.log(`removed stale ${file}`);
        }
      }
    }
  } finally {
    await h?.teardown();
    await pg.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}

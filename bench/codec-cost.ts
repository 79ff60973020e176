/**
 * What the payload codec (src/codec) costs per order, measured side by side in the same run.
 *
 * Two extra pairs of processes join the bench's stack, each a real src/worker.ts and src/api/server.ts on a task queue
 * of its own: one with PAYLOAD_ENCRYPTION=on (as production), one with it off. Orders go through each pair's HTTP API
 * (POST /orders, the harvest signal, the result), in alternating batches (on, off, off, on, ...) so drift on the
 * machine hits both alike, and /proc gives the CPU of each pair's worker and API, of the shared Temporal server and of
 * the bench process (its client encrypts the signal and decrypts the result for the "on" pair only). The difference
 * per order is what encryption costs there, all payloads and failure attributes included.
 *
 * Alongside, the crypto alone: the payloads of one finished order, encrypted and decrypted in this process (AES-256-GCM
 * over exactly the bytes the order stored), which is the floor of what the codec can cost.
 */
import type { Client } from '@temporalio/client';
import { Client as TemporalClient } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { ENCRYPTED_ENCODING } from '../src/codec/codec';
import { createDataConverter } from '../src/codec/data-converter';
import { freePort } from '../src/lib/net';
import { harvestCompletedSignal, harvestTaskId, orderWorkflowId } from '../src/workflows/definitions';
import { mapLimit, request } from './lib/load';
import { ProcessMonitor } from './lib/proc';
import type { BenchStack } from './lib/stack';
import { median } from './lib/stats';

export type CodecMode = 'on' | 'off';

export interface CodecCostResult {
  ordersPerBatch: number;
  rounds: number;
  concurrency: number;
  /** Orders completed per mode over all measured batches. */
  orders: Record<CodecMode, number>;
  /** CPU ms per completed order, summed over the measured batches, by process. */
  cpuMsPerOrder: Record<CodecMode, { worker: number; api: number; temporal: number; bench: number }>;
  /** (worker + API) with the codec minus without, per order; and that as a share of the codec-off cost. */
  appDeltaMsPerOrder: number;
  appDeltaPercent: number;
  /** The same per batch pair (on - off, ms per order), to show the spread, and its median. */
  appDeltaMsPerRound: number[];
  appDeltaMsMedian: number;
  /** History size of one finished order per mode (bytes, as Temporal reports it). */
  historyBytes: Record<CodecMode, number>;
  /** Crypto alone over one order's stored payloads: how many, how many bytes, CPU µs to encrypt and decrypt all. */
  cryptoPerOrder: { payloads: number; bytes: number; encryptUs: number; decryptUs: number };
  errors: string[];
}

const LINES = [
  { sku: 'TOM-HEIRLOOM', quantity: 2 },
  { sku: 'LET-BUTTER', quantity: 1 },
];
const BODY = {
  lines: LINES,
  shippingAddress: {
    name: 'Dana Demo',
    line1: '1 Orchard Lane',
    city: 'Springfield',
    postalCode: '12345',
    country: 'US',
  },
};
const CUSTOMER = { authorization: 'Bearer demo-customer-key' };

interface Pair {
  mode: CodecMode;
  apiUrl: string;
  client: Client;
  monitor: ProcessMonitor;
}

/** A worker and an API with PAYLOAD_ENCRYPTION=mode, on a task queue of their own. */
async function startPair(stack: BenchStack, mode: CodecMode): Promise<Pair> {
  const apiPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...stack.appEnv,
    TEMPORAL_TASK_QUEUE: `bench-codec-${mode}`,
    API_PORT: String(apiPort),
    PAYLOAD_ENCRYPTION: mode,
    PAYLOAD_KEYS: mode === 'on' ? stack.codec.payloadKeys : '',
    // An unversioned worker on a task queue of its own: the comparison is about the codec only.
    TEMPORAL_WORKER_BUILD_ID: '',
  };
  const worker = await stack.spawnApp(`codec-${mode}-worker`, 'src/worker.ts', env, {
    line: 'worker started',
    timeoutMs: 120_000,
  });
  const api = await stack.spawnApp(`codec-${mode}-api`, 'src/api/server.ts', env, {
    port: { port: apiPort, host: '127.0.0.1' },
    timeoutMs: 60_000,
  });
  const monitor = new ProcessMonitor(1_000);
  monitor.add({ name: 'worker', pid: worker.pid as number });
  monitor.add({ name: 'api', pid: api.pid as number });
  monitor.add({ name: 'temporal', pid: stack.pids.temporal });
  monitor.add({ name: 'bench', pid: process.pid });
  const client =
    mode === 'on'
      ? stack.client
      : new TemporalClient({
          connection: stack.client.connection,
          namespace: stack.namespace,
          dataConverter: createDataConverter(undefined),
        });
  return { mode, apiUrl: `http://127.0.0.1:${apiPort}`, client, monitor };
}

/** One order through the pair's API: submit, harvest, wait for the result. Returns its workflow ID. */
async function runOrder(pair: Pair, key: string): Promise<string> {
  const submit = () => request(`${pair.apiUrl}/orders`, 'POST', { ...CUSTOMER, 'idempotency-key': key }, BODY);
  // A kept-alive socket the API closed just as it was reused: the same key makes the retry the same order.
  const answer = await submit().catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ECONNRESET') throw error;
    return submit();
  });
  if (answer.status !== 202) throw new Error(`POST /orders answered ${answer.status}: ${answer.body.slice(0, 200)}`);
  const { orderId } = JSON.parse(answer.body) as { orderId: string };
  const handle = pair.client.workflow.getHandle(orderWorkflowId(orderId));
  await handle.signal(harvestCompletedSignal, {
    taskId: harvestTaskId(orderId),
    yields: LINES,
    reportedBy: 'crew:bench',
  });
  const result = (await handle.result()) as { status?: string };
  if (result.status !== 'COMPLETED') throw new Error(`order ${orderId} ended ${String(result.status)}`);
  return handle.workflowId;
}

/** Every payload of a history (objects with a metadata.encoding), search attributes aside. */
function storedPayloads(history: temporal.api.history.v1.IHistory): Payload[] {
  const found: Payload[] = [];
  const walk = (value: unknown, key: string): void => {
    if (value === null || typeof value !== 'object' || value instanceof Uint8Array || key === 'searchAttributes')
      return;
    const node = value as { metadata?: Record<string, unknown> };
    if (node.metadata?.encoding instanceof Uint8Array) found.push(node as Payload);
    for (const [child, next] of Object.entries(value)) walk(next, child);
  };
  walk(history.events, '');
  return found;
}

function cpuMicros(run: () => Promise<unknown>): Promise<number> {
  const before = process.cpuUsage();
  return run().then(() => {
    const used = process.cpuUsage(before);
    return used.user + used.system;
  });
}

/** Encrypt and decrypt one order's stored payloads `repeat` times; CPU µs per order. */
async function measureCrypto(stack: BenchStack, workflowId: string, repeat: number) {
  const codec = stack.codec.dataConverter.payloadCodecs?.[0];
  if (!codec) throw new Error('the bench runs with the codec on');
  const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
  const encrypted = storedPayloads(history).filter(
    (p) => Buffer.from(p.metadata?.encoding ?? []).toString() === ENCRYPTED_ENCODING,
  );
  const plain = await codec.decode(encrypted);
  await codec.encode(plain); // warm
  const encryptUs = await cpuMicros(async () => {
    for (let i = 0; i < repeat; i++) await codec.encode(plain);
  });
  const decryptUs = await cpuMicros(async () => {
    for (let i = 0; i < repeat; i++) await codec.decode(encrypted);
  });
  return {
    payloads: encrypted.length,
    bytes: encrypted.reduce((sum, p) => sum + (p.data?.length ?? 0), 0),
    encryptUs: encryptUs / repeat,
    decryptUs: decryptUs / repeat,
  };
}

export async function measureCodecCost(
  stack: BenchStack,
  options: { quick: boolean; say: (message: string) => void },
): Promise<CodecCostResult> {
  const { say } = options;
  // Many short alternating batches rather than a few long ones: drift and other load on the machine hit both alike.
  const ordersPerBatch = options.quick ? 12 : 50;
  const rounds = options.quick ? 4 : 10;
  const concurrency = 4;
  const pairs = { on: await startPair(stack, 'on'), off: await startPair(stack, 'off') };
  say('codec: worker + API pairs with PAYLOAD_ENCRYPTION=on and =off started');
  const tag = Date.now().toString(36);
  let sequence = 0;
  const errors: string[] = [];
  const batch = async (pair: Pair, n: number): Promise<string[]> => {
    const ids = await mapLimit(Array.from({ length: n }), concurrency, async () =>
      runOrder(pair, `codec-${pair.mode}-${tag}-${++sequence}`).catch((error: unknown) => {
        errors.push(String(error).slice(0, 200));
        return undefined;
      }),
    );
    return ids.filter((id): id is string => id !== undefined);
  };

  // Unmeasured warm-up of both pairs (JIT, connections, the workflow cache).
  await Promise.all([batch(pairs.on, 20), batch(pairs.off, 20)]);
  const zero = () => ({ worker: 0, api: 0, temporal: 0, bench: 0 });
  const cpuSec = { on: zero(), off: zero() };
  const orders = { on: 0, off: 0 };
  const perRound: number[] = [];
  const lastIds: Record<CodecMode, string | undefined> = { on: undefined, off: undefined };
  for (let round = 0; round < rounds; round++) {
    const order: CodecMode[] = round % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
    const appMs: Partial<Record<CodecMode, number>> = {};
    for (const mode of order) {
      const pair = pairs[mode];
      const close = pair.monitor.window();
      const ids = await batch(pair, ordersPerBatch);
      const usage = close();
      for (const name of ['worker', 'api', 'temporal', 'bench'] as const)
        cpuSec[mode][name] += usage[name]?.cpuSec ?? 0;
      orders[mode] += ids.length;
      lastIds[mode] = ids.at(-1) ?? lastIds[mode];
      appMs[mode] = (((usage.worker?.cpuSec ?? 0) + (usage.api?.cpuSec ?? 0)) * 1000) / Math.max(ids.length, 1);
    }
    perRound.push((appMs.on ?? 0) - (appMs.off ?? 0));
    say(
      `codec: round ${round + 1}/${rounds}: worker+API ${appMs.on?.toFixed(1)} ms/order on, ${appMs.off?.toFixed(1)} off`,
    );
  }

  const perOrder = (mode: CodecMode) => {
    const n = Math.max(orders[mode], 1);
    const ms = (sec: number) => (sec * 1000) / n;
    return {
      worker: ms(cpuSec[mode].worker),
      api: ms(cpuSec[mode].api),
      temporal: ms(cpuSec[mode].temporal),
      bench: ms(cpuSec[mode].bench),
    };
  };
  const cpuMsPerOrder = { on: perOrder('on'), off: perOrder('off') };
  const app = (mode: CodecMode) => cpuMsPerOrder[mode].worker + cpuMsPerOrder[mode].api;
  const historyBytes = async (mode: CodecMode) => {
    const id = lastIds[mode];
    return id ? ((await stack.client.workflow.getHandle(id).describe()).historySize ?? 0) : 0;
  };
  const cryptoPerOrder = lastIds.on
    ? await measureCrypto(stack, lastIds.on, 200)
    : { payloads: 0, bytes: 0, encryptUs: 0, decryptUs: 0 };
  return {
    ordersPerBatch,
    rounds,
    concurrency,
    orders,
    cpuMsPerOrder,
    appDeltaMsPerOrder: app('on') - app('off'),
    appDeltaPercent: ((app('on') - app('off')) / app('off')) * 100,
    appDeltaMsPerRound: perRound,
    appDeltaMsMedian: median(perRound),
    historyBytes: { on: await historyBytes('on'), off: await historyBytes('off') },
    cryptoPerOrder,
    errors: [...new Set(errors)].slice(0, 5),
  };
}

/** The report's section. */
export function codecCostMarkdown(result: CodecCostResult | undefined): string[] {
  if (!result) return [];
  const f1 = (value: number) => value.toFixed(1);
  const row = (mode: CodecMode, label: string) => {
    const c = result.cpuMsPerOrder[mode];
    return `| ${label} | ${result.orders[mode]} | ${f1(c.worker)} | ${f1(c.api)} | ${f1(c.worker + c.api)} | ${f1(c.temporal)} | ${f1(c.bench)} | ${result.historyBytes[mode]} |`;
  };
  const crypto = result.cryptoPerOrder;
  return [
    '## What the payload codec costs per order',
    '',
    `Two extra worker + API pairs on the same Temporal and PostgreSQL, PAYLOAD_ENCRYPTION on and off, orders over HTTP in ` +
      `alternating batches (${result.rounds} rounds of ${result.ordersPerBatch} orders each, concurrency ${result.concurrency}). ` +
      'CPU ms per completed order from /proc; bench = the load generator, whose client encrypts the harvest signal and ' +
      'decrypts the result for the "on" pair.',
    '',
    '| codec | orders | worker | API | worker + API | Temporal | bench | history bytes |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    row('on', 'on (AES-256-GCM)'),
    row('off', 'off'),
    '',
    `Encryption adds **${f1(result.appDeltaMsPerOrder)} ms** of worker + API CPU per order ` +
      `(${f1(result.appDeltaPercent)}% of the codec-off cost); per round: ${result.appDeltaMsPerRound.map(f1).join(', ')} ms ` +
      `(median ${f1(result.appDeltaMsMedian)}).`,
    `The crypto alone, over one order's ${crypto.payloads} stored payloads (${crypto.bytes} bytes): ` +
      `${f1(crypto.encryptUs)} µs to encrypt them all, ${f1(crypto.decryptUs)} µs to decrypt (one CPU).`,
    ...(result.errors.length ? ['', `Errors: ${result.errors.join('; ')}`] : []),
    '',
  ];
}

import { spawn, type ChildProcess } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection } from '@temporalio/worker';
import { requireBinaryPath } from '../../src/lib/binaries';
import { devServerArgs } from '../../src/lib/dev-server';
import { freePort, waitForPort } from '../../src/lib/net';
import { testDataConverter } from './codec';

/**
 * A real Temporal dev server (`temporal server start-dev`) as a child process, for end-to-end tests
 * that need what the time-skipping test server does not give: real timeouts, real sticky queues,
 * workers in other processes. In-memory persistence (or a SQLite file, as `npm start` runs it), no Web UI, free
 * ports, the same custom search attributes as `npm start`. Its client encrypts with the test key unless told otherwise.
 */
export interface DevServer {
  /** host:port of the frontend, for TEMPORAL_ADDRESS. */
  address: string;
  namespace: string;
  /** The client, with `dataConverter` (the test key's codec by default). */
  client: Client;
  dataConverter: DataConverter;
  nativeConnection: NativeConnection;
  /** The server's own output so far (for failure messages). */
  output: () => string;
  /** Close the connections and stop the server (SIGTERM, then SIGKILL). Safe to call twice. */
  stop: () => Promise<void>;
}

const NAMESPACE = 'default';

export interface DevServerOptions {
  startTimeoutMs?: number;
  /** Keep the state in this SQLite file (with the pragmas `npm start` uses); default: in memory. */
  dbFilename?: string;
  /** For the client; default the test key's (test/support/codec.ts). */
  dataConverter?: DataConverter;
}

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const dataConverter = options.dataConverter ?? testDataConverter();
  const binary = requireBinaryPath('temporal');
  const port = await freePort();
  const args = devServerArgs({ port, namespace: NAMESPACE, logLevel: 'error', dbFilename: options.dbFilename });
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // A test that fails before its afterAll must not leave a server behind or keep Jest alive.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.unref();
  for (const stream of [child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();

  let client: Client | undefined;
  let nativeConnection: NativeConnection | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await client?.connection.close().catch(() => undefined);
      await nativeConnection?.close().catch(() => undefined);
      await killAndWait(child, exited);
      process.off('exit', killOnExit);
    })();
    return stopping;
  };

  try {
    const address = `127.0.0.1:${port}`;
    await Promise.race([
      waitForPort(port, '127.0.0.1', timeoutMs),
      exited.then(() => {
        throw new Error(`temporal server start-dev exited early (code ${child.exitCode}):\n${output}`);
      }),
    ]);
    const connection = await Connection.connect({ address });
    client = new Client({ connection, namespace: NAMESPACE, dataConverter });
    // The frontend accepts connections slightly before the namespace is registered.
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await client.workflowService.describeNamespace({ namespace: NAMESPACE });
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    nativeConnection = await NativeConnection.connect({ address });
    return { address, namespace: NAMESPACE, client, dataConverter, nativeConnection, output: () => output, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** SIGTERM, then SIGKILL if the process is still there after `graceMs`; resolves once it has exited. */
export async function killAndWait(child: ChildProcess, exited: Promise<void>, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  child.kill('SIGTERM');
  await exited;
  clearTimeout(timer);
}

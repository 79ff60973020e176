import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../config';
import { createLogger } from '../lib/logger';
import { createSandboxApp, type SandboxLogger } from './app';
import { startSmtp, type RunningSmtp } from './smtp';
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
  /** Port of the SMTP listener (same interface); default 0, an ephemeral port (read it back from `smtpPort`). */
  smtpPort?: number;
  /** Faults active from the first request, e.g. parsed from `SANDBOX_FAULTS`. */
  faults?: FaultsUpdate;
  logger?: SandboxLogger;
  /** Connections to PostgreSQL; default 10. */
  poolSize?: number;
}

/** A listening sandbox. */
export interface RunningSandbox {
  /** Base URL of the HTTP side (Stripe's `/v1`, EasyPost's `/v2`, the admin routes), e.g. `http://127.0.0.1:4010`. */
  url: string;
  port: number;
  /** Where the SMTP listener listens. */
  smtpHost: string;
  smtpPort: number;
  /** Stop listening, cut open connections (hung "lost responses" included) and close the database pool. */
  close(): Promise<void>;
}

/** A host clients can reach: wildcard binds are reached over loopback. */
function reachableHost(host: string): string {
  return host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
}

function reachableUrl(host: string, port: number): string {
  const reachable = reachableHost(host);
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}

/**
 * Start the provider sandbox in this process: open its database (creating its schema), then listen for HTTP and
 * SMTP. Used by tests (ports 0), by the stack launcher, and by this module's own entrypoint.
 */
export async function startSandbox(options: StartSandboxOptions): Promise<RunningSandbox> {
  const host = options.host ?? '127.0.0.1';
  const store = await SandboxStore.open(options.databaseUrl, { max: options.poolSize });
  const faults = new FaultInjector(options.faults);
  let url = '';
  let smtp: RunningSmtp | undefined;
  const app = createSandboxApp({
    store,
    faults,
    logger: options.logger,
    baseUrl: () => url,
    smtpPort: () => smtp?.port ?? 0,
  });
  const server = http.createServer(app);

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    smtp = await startSmtp(store, faults, {
      host,
      port: options.smtpPort ?? 0,
      onError: (error) => options.logger?.error({ err: error }, 'sandbox SMTP listener failed'),
    });
  } catch (error) {
    server.close();
    await store.close();
    throw error;
  }
  const mail = smtp;

  const port = (server.address() as AddressInfo).port;
  url = reachableUrl(host, port);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // A request hanging to simulate a lost response (or an idle keep-alive socket) would otherwise hold
        // close() open for up to hangMs; destroying the socket also cancels the hang timer.
        server.closeAllConnections();
      });
      await mail.close();
      await store.close();
    })();
    return closing;
  };
  return { url, port, smtpHost: reachableHost(host), smtpPort: mail.port, close };
}

/**
 * Start the sandbox from environment variables: SANDBOX_HOST, SANDBOX_PORT, SANDBOX_SMTP_PORT, SANDBOX_DATABASE_URL
 * (required) via
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
      'SANDBOX_DATABASE_URL is not set: the provider sandbox keeps its payments, shipments and messages in PostgreSQL. ' +
        'Point it at a database, e.g. SANDBOX_DATABASE_URL=postgres://user:pass@localhost:5432/sandbox',
    );
  }
  return startSandbox({
    databaseUrl: config.SANDBOX_DATABASE_URL,
    host: config.SANDBOX_HOST,
    port: config.SANDBOX_PORT,
    smtpPort: config.SANDBOX_SMTP_PORT,
    faults: parseFaultsEnv(env.SANDBOX_FAULTS),
    logger,
  });
}

if (require.main === module) {
  const logger = createLogger('sandbox');
  startSandboxFromEnv(process.env, logger).then(
    (sandbox) => {
      logger.info({ url: sandbox.url, smtp: `${sandbox.smtpHost}:${sandbox.smtpPort}` }, 'provider sandbox listening');
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

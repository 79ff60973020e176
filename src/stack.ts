/**
 * `npm start`: the whole stack in one terminal, on embedded defaults.
 *
 *   PostgreSQL (embedded, data in $HTD_DATA_DIR/postgres)   unless DATABASE_URL is set
 *   Temporal dev server + Web UI ($HTD_DATA_DIR/temporal.db) unless TEMPORAL_ADDRESS is set
 *   provider sandbox (Stripe, EasyPost and SMTP protocols)  unless SANDBOX_URL is set or every provider has credentials
 *   codec server, so the Web UI and the CLI can read the encrypted payloads (src/codec)
 *   worker, HTTP API, and a simulated harvest crew (demo)
 *
 * Everything durable lives in the data folder, so stopping mid-order (Ctrl-C, or a kill) and
 * starting again resumes each order from its last completed step. The processes run under the
 * supervisor of src/stack/; when one of them dies, everything stops.
 */
import path from 'node:path';
import { loadConfig, type Config } from './config';
import { startEmbeddedStack, type EmbeddedStack } from './stack/embedded';
import { terminalRelay } from './stack/supervisor';

let stack: EmbeddedStack | undefined;
let starting: Promise<EmbeddedStack> | undefined;
const startUp = new AbortController();
let exiting = false;

/** Stop what runs (also when start-up is still under way) and exit. */
async function shutdown(code: number): Promise<never> {
  if (!exiting) {
    exiting = true;
    console.log('\nStopping: API, worker, sandbox, Temporal, PostgreSQL ...');
    startUp.abort();
    await starting?.catch(() => undefined);
    await stack?.stop();
    console.log('Stopped. State is kept in the data folder; `npm start` resumes where it left off.');
  }
  process.exit(code);
}

function banner(running: EmbeddedStack, config: Config): string {
  const api = config.PUBLIC_BASE_URL ?? running.apiUrl;
  const crewDelay = config.CREW_SIMULATOR_DELAY_MS;
  const logDir = running.logDir;
  return `
harvest-to-door is running.

  API        ${api}
  Web UI     ${running.uiUrl ?? 'your Temporal Web UI'}${running.codec && running.uiUrl ? ' (decodes the encrypted payloads through the codec server)' : ''}${running.codec ? `\n  Codec      ${running.codec.url}` : ''}
  Data       ${config.HTD_DATA_DIR}  (logs in ${logDir})
  E-mail     ${config.SMTP_URL ? 'sent through SMTP_URL' : `${running.sandboxUrl}/_mail/messages (what customers receive)`}
  Crew       ${crewDelay > 0 ? `simulated: completes harvests ${crewDelay / 1000}s after they are scheduled` : 'none: report harvests with POST /harvest-tasks/:id/complete'}

Submit an order:

  curl -si -X POST ${api}/orders \\
    -H 'Authorization: Bearer demo-customer-key' -H 'Content-Type: application/json' \\
    -H "Idempotency-Key: demo-$(date +%s)" \\
    -d '{"lines":[{"sku":"TOM-HEIRLOOM","quantity":2},{"sku":"LET-BUTTER","quantity":1}],"shippingAddress":{"name":"Dana Demo","line1":"1 Orchard Lane","city":"Springfield","postalCode":"12345","country":"US"}}'

Then follow it: curl -s ${api}/orders/<orderId> -H 'Authorization: Bearer demo-customer-key'
${
  running.codec
    ? `
The temporal CLI reads the encrypted payloads through the codec server:
  export TEMPORAL_CODEC_ENDPOINT=${running.codec.url} TEMPORAL_CODEC_AUTH="Bearer $(cat ${running.codec.tokenFile ?? '<CODEC_SERVER_TOKEN>'})"
`
    : ''
}Press Ctrl-C to stop everything.
`;
}

async function main(): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  env.CREW_SIMULATOR_DELAY_MS ??= '5000';
  env.WORKER_METRICS_ADDRESS ??= '127.0.0.1:9464';
  const config = loadConfig(env);
  process.once('SIGINT', () => void shutdown(0));
  process.once('SIGTERM', () => void shutdown(0));

  starting = startEmbeddedStack({
    dataDir: config.HTD_DATA_DIR,
    ports: {
      postgres: config.EMBEDDED_POSTGRES_PORT,
      temporal: config.TEMPORAL_DEV_PORT,
      temporalUi: config.TEMPORAL_UI_PORT,
      sandbox: config.SANDBOX_PORT,
      smtp: config.SANDBOX_SMTP_PORT,
      api: config.API_PORT,
    },
    external: {
      databaseUrl: config.DATABASE_URL,
      sandboxDatabaseUrl: config.SANDBOX_DATABASE_URL,
      temporalAddress: config.TEMPORAL_ADDRESS,
      sandboxUrl: config.SANDBOX_URL,
    },
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    env: {
      CREW_SIMULATOR_DELAY_MS: env.CREW_SIMULATOR_DELAY_MS,
      WORKER_METRICS_ADDRESS: env.WORKER_METRICS_ADDRESS,
    },
    crewDelayMs: config.CREW_SIMULATOR_DELAY_MS,
    codec: 'data-folder',
    onUnexpectedExit: 'stop',
    onExit: (exit) => {
      console.error(
        `[${exit.name}] exited (${exit.detail.split(';')[0]}); stopping the stack. See ${path.join(config.HTD_DATA_DIR, 'logs', `${exit.name}.log`)}`,
      );
      void shutdown(1);
    },
    relay: terminalRelay(),
    say: (message) => console.log(message),
    signal: startUp.signal,
  });
  stack = await starting;
  // A stop that began while the last piece came up (Ctrl-C, a process that died) wins over the banner.
  if (exiting || stack.supervisor.stopping) return;
  console.log(banner(stack, config));
}

if (require.main === module) {
  main().catch(async (error: unknown) => {
    if (exiting) return;
    console.error(error instanceof Error ? error.message : error);
    await shutdown(1);
  });
}

/**
 * `npm start`: the whole stack in one terminal, on embedded defaults.
 *
 *   PostgreSQL (embedded, data in $HTD_DATA_DIR/postgres)   unless DATABASE_URL is set
 *   Temporal dev server + Web UI ($HTD_DATA_DIR/temporal.db) unless TEMPORAL_ADDRESS is set
 *   provider sandbox (payments, carriers, notifications)    unless SANDBOX_URL is set
 *   codec server, so the Web UI and the CLI can read the encrypted payloads (src/codec)
 *   worker, HTTP API, and a simulated harvest crew (demo)
 *
 * Everything durable lives in the data folder, so stopping mid-order (Ctrl-C, or a kill) and
 * starting again resumes each order from its last completed step.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { prepareEmbeddedCodec } from './codec/embedded';
import { loadConfig } from './config';
import { startCrewSimulator } from './crew/simulator';
import { createDb } from './db/client';
import { migrate } from './db/migrate';
import { ensureDatabase, startPostgres } from './db/postgres-server';
import { seed } from './db/seed';
import { PROJECT_ROOT, resolveBinary } from './lib/binaries';
import { devServerArgs } from './lib/dev-server';
import { createLogger } from './lib/logger';
import { waitForPort } from './lib/net';
import { connectClient } from './lib/temporal';
import { SEARCH_ATTRIBUTES } from './workflows/search-attributes';

const log = createLogger('stack', process.env.LOG_LEVEL ?? 'info');

interface Managed {
  name: string;
  stop: () => Promise<void>;
}
const running: Managed[] = [];

/** Run a child process whose JSON log lines go to the data folder and, condensed, to the terminal. */
function runChild(name: string, command: string, args: string[], env: NodeJS.ProcessEnv, logDir: string): ChildProcess {
  const out = fs.createWriteStream(path.join(logDir, `${name}.log`), { flags: 'a' });
  const child = spawn(command, args, { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const relay = (chunk: Buffer) => {
    out.write(chunk);
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const entry = JSON.parse(line) as { level?: number | string; msg?: string };
        // pino levels are numbers (30 = info); the Temporal server's are words, and only its errors matter here.
        const shown =
          typeof entry.level === 'number' ? entry.level >= 30 : entry.level === 'error' || entry.level === 'fatal';
        if (shown && entry.msg && !shuttingDown) console.log(`[${name}] ${entry.msg}`);
      } catch {
        if (name !== 'temporal') console.log(`[${name}] ${line}`);
      }
    }
  };
  child.stdout?.on('data', relay);
  child.stderr?.on('data', relay);
  child.once('exit', (code, signal) => {
    out.end();
    if (!shuttingDown) {
      console.error(
        `[${name}] exited (code ${code}, signal ${signal}); stopping the stack. See ${path.join(logDir, `${name}.log`)}`,
      );
      void shutdown(1);
    }
  });
  running.push({
    name,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        child.once('exit', () => (clearTimeout(timer), resolve()));
        child.kill('SIGTERM');
      }),
  });
  return child;
}

let shuttingDown = false;
async function shutdown(code: number): Promise<never> {
  if (!shuttingDown) {
    shuttingDown = true;
    console.log('\nStopping: API, worker, sandbox, Temporal, PostgreSQL ...');
    for (const item of [...running].reverse()) {
      try {
        await item.stop();
      } catch (error) {
        console.error(`failed to stop ${item.name}:`, error);
      }
    }
    console.log('Stopped. State is kept in the data folder; `npm start` resumes where it left off.');
  }
  process.exit(code);
}

async function main(): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  env.CREW_SIMULATOR_DELAY_MS ??= '5000';
  env.WORKER_METRICS_ADDRESS ??= '127.0.0.1:9464';
  const config = loadConfig(env);
  const dataDir = config.HTD_DATA_DIR;
  const logDir = path.join(dataDir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  process.once('SIGINT', () => void shutdown(0));
  process.once('SIGTERM', () => void shutdown(0));

  // 1. PostgreSQL.
  if (!config.DATABASE_URL) {
    const pg = await startPostgres({
      dataDir: path.join(dataDir, 'postgres'),
      port: config.EMBEDDED_POSTGRES_PORT,
      onLog: (() => {
        const out = fs.createWriteStream(path.join(logDir, 'postgres.log'), { flags: 'a' });
        return (line: string) => out.write(`${line}\n`);
      })(),
    });
    running.push({ name: 'postgres', stop: pg.stop });
    await ensureDatabase(pg.url(), 'harvest');
    await ensureDatabase(pg.url(), 'sandbox');
    env.DATABASE_URL = pg.url('harvest');
    env.SANDBOX_DATABASE_URL ??= pg.url('sandbox');
    console.log(`[postgres] embedded PostgreSQL on 127.0.0.1:${pg.port} (data: ${path.join(dataDir, 'postgres')})`);
  } else {
    env.SANDBOX_DATABASE_URL ??= config.DATABASE_URL;
  }
  const databaseUrl = env.DATABASE_URL as string;
  const applied = await migrate(databaseUrl);
  if (applied.length > 0) console.log(`[postgres] applied migrations: ${applied.join(', ')}`);
  const db = createDb(databaseUrl, 4);
  await seed(db);

  // 2. Payload keys and the codec server (the Web UI and the CLI decode through it).
  const codec = prepareEmbeddedCodec(config, { uiPort: config.TEMPORAL_ADDRESS ? undefined : config.TEMPORAL_UI_PORT });
  if (codec) {
    Object.assign(env, codec.env);
    for (const file of codec.created) console.log(`[codec] created ${file} (mode 0600; keep it with the data folder)`);
    runChild(
      'codec',
      process.execPath,
      ['--import', 'tsx', 'src/codec/server-cli.ts'],
      { ...env, ...codec.serverEnv },
      logDir,
    );
    await waitForPort(config.CODEC_SERVER_PORT, config.CODEC_SERVER_HOST);
  }

  // 3. Temporal.
  let uiUrl = 'your Temporal Web UI';
  if (!config.TEMPORAL_ADDRESS) {
    const args = devServerArgs({
      port: config.TEMPORAL_DEV_PORT,
      uiPort: config.TEMPORAL_UI_PORT,
      dbFilename: path.join(dataDir, 'temporal.db'),
      namespace: config.TEMPORAL_NAMESPACE,
      logLevel: 'warn',
      ...(codec ? { uiCodecEndpoint: codec.uiEndpoint } : {}),
    });
    const binary = resolveBinary('temporal', env);
    if (binary.kind === 'path') {
      runChild('temporal', binary.path, args, env, logDir);
    } else {
      // No CLI on this machine: let the SDK download it (needs internet access).
      console.log(`[temporal] CLI not found (${binary.tried.join('; ')}); downloading it through the Temporal SDK`);
      const { TestWorkflowEnvironment } = await import('@temporalio/testing');
      const local = await TestWorkflowEnvironment.createLocal({
        server: {
          executable: { type: 'cached-download' },
          ip: '127.0.0.1',
          port: config.TEMPORAL_DEV_PORT,
          ui: true,
          uiPort: config.TEMPORAL_UI_PORT,
          dbFilename: path.join(dataDir, 'temporal.db'),
          namespace: config.TEMPORAL_NAMESPACE,
          searchAttributes: Object.entries(SEARCH_ATTRIBUTES).map(([name]) => ({ name, type: 'KEYWORD' as const })),
        },
      });
      running.push({ name: 'temporal', stop: () => local.teardown() });
    }
    await waitForPort(config.TEMPORAL_DEV_PORT, '127.0.0.1', 60_000);
    env.TEMPORAL_ADDRESS = `127.0.0.1:${config.TEMPORAL_DEV_PORT}`;
    uiUrl = `http://127.0.0.1:${config.TEMPORAL_UI_PORT}`;
    console.log(
      `[temporal] dev server on ${env.TEMPORAL_ADDRESS}, Web UI ${uiUrl} (history: ${path.join(dataDir, 'temporal.db')})`,
    );
  }
  const temporal = await connectClient(loadConfig(env));
  // The frontend accepts connections slightly before the namespace is ready.
  for (let i = 0; ; i++) {
    try {
      await temporal.workflowService.describeNamespace({ namespace: config.TEMPORAL_NAMESPACE });
      break;
    } catch (error) {
      if (i > 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  // 4. Provider sandbox, worker, API: separate processes, as in production.
  const tsx = ['--import', 'tsx'];
  if (!config.SANDBOX_URL) {
    runChild('sandbox', process.execPath, [...tsx, 'src/sandbox/server.ts'], env, logDir);
    await waitForPort(config.SANDBOX_PORT, config.SANDBOX_HOST);
    env.SANDBOX_URL = `http://${config.SANDBOX_HOST}:${config.SANDBOX_PORT}`;
  }
  runChild('worker', process.execPath, [...tsx, 'src/worker.ts'], env, logDir);
  runChild('api', process.execPath, [...tsx, 'src/api/server.ts'], env, logDir);
  await waitForPort(config.API_PORT, config.API_HOST, 60_000);

  // 5. The simulated crew (demo only).
  const crewDelay = config.CREW_SIMULATOR_DELAY_MS;
  if (crewDelay > 0) {
    const crew = startCrewSimulator({ db, temporal, delayMs: crewDelay, log });
    running.push({ name: 'crew', stop: async () => crew.stop() });
  }
  running.push({
    name: 'clients',
    stop: async () => {
      await temporal.connection.close();
      await db.$disconnect();
    },
  });

  const api = config.PUBLIC_BASE_URL ?? `http://${config.API_HOST}:${config.API_PORT}`;
  console.log(`
harvest-to-door is running.

  API        ${api}
  Web UI     ${uiUrl}${codec && !config.TEMPORAL_ADDRESS ? ' (decodes the encrypted payloads through the codec server)' : ''}${codec ? `\n  Codec      ${codec.url}` : ''}
  Data       ${dataDir}  (logs in ${logDir})
  Crew       ${crewDelay > 0 ? `simulated: completes harvests ${crewDelay / 1000}s after they are scheduled` : 'none: report harvests with POST /harvest-tasks/:id/complete'}

Submit an order:

  curl -si -X POST ${api}/orders \\
    -H 'Authorization: Bearer demo-customer-key' -H 'Content-Type: application/json' \\
    -H "Idempotency-Key: demo-$(date +%s)" \\
    -d '{"lines":[{"sku":"TOM-HEIRLOOM","quantity":2},{"sku":"LET-BUTTER","quantity":1}],"shippingAddress":{"name":"Dana Demo","line1":"1 Orchard Lane","city":"Springfield","postalCode":"12345","country":"US"}}'

Then follow it: curl -s ${api}/orders/<orderId> -H 'Authorization: Bearer demo-customer-key'
${
  codec
    ? `
The temporal CLI reads the encrypted payloads through the codec server:
  export TEMPORAL_CODEC_ENDPOINT=${codec.url} TEMPORAL_CODEC_AUTH="Bearer $(cat ${codec.tokenFile ?? '<CODEC_SERVER_TOKEN>'})"
`
    : ''
}
Press Ctrl-C to stop everything.
`);
}

if (require.main === module) {
  main().catch(async (error) => {
    console.error(error instanceof Error ? error.message : error);
    await shutdown(1);
  });
}

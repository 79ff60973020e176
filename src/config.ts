import path from 'node:path';
import { z } from 'zod';
import { SANDBOX_CARRIER_ACCOUNTS } from './sandbox/accounts';

/**
 * Every environment variable the processes read, parsed once and failing fast.
 * The README's configuration table and `.env.example` list the same names; test/deploy checks that
 * docker-compose.yml only sets variables declared here.
 */
const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value));

const shipFromSchema = z.looseObject({
  name: z.string().optional(),
  company: z.string().optional(),
  street1: z.string().min(1),
  city: z.string().min(1),
  zip: z.string().min(1),
  country: z.string().length(2),
  phone: z.string().optional(),
});

function parseJsonOrUndefined(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Folder holding the embedded PostgreSQL cluster, the dev server's database and logs. */
  HTD_DATA_DIR: z.string().default('.data'),

  /** PostgreSQL for the domain. Unset: `npm start` runs an embedded PostgreSQL in the data folder. */
  DATABASE_URL: optionalString,
  EMBEDDED_POSTGRES_PORT: port(54329),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),

  /** Temporal frontend (host:port). Unset: `npm start` runs a Temporal dev server with its Web UI. */
  TEMPORAL_ADDRESS: optionalString,
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_TASK_QUEUE: z.string().default('harvest-to-door'),
  /** mTLS client certificate and key (PEM files) for Temporal Cloud or a TLS-terminated cluster. */
  TEMPORAL_TLS_CERT_PATH: optionalString,
  TEMPORAL_TLS_KEY_PATH: optionalString,
  /** Extra CA bundle for the server certificate, when it is not publicly trusted. */
  TEMPORAL_TLS_CA_PATH: optionalString,
  /** API key for Temporal Cloud (sent as a bearer token, implies TLS). */
  TEMPORAL_API_KEY: optionalString,
  /** Embedded dev server ports: gRPC frontend and Web UI. */
  TEMPORAL_DEV_PORT: port(7233),
  TEMPORAL_UI_PORT: port(8233),
  /** The Temporal Web UI as a browser reaches it, linked from the API's GET /; unset: no link. */
  TEMPORAL_UI_URL: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
  /** Explicit paths to external binaries; see src/lib/binaries.ts for the full resolution order. */
  TEMPORAL_CLI_PATH: optionalString,
  TEMPORAL_TEST_SERVER_PATH: optionalString,
  /** host:port where the worker serves the Temporal SDK's Prometheus metrics; unset: off (`npm start`: 127.0.0.1:9464). */
  WORKER_METRICS_ADDRESS: optionalString,
  /**
   * Worker Deployment Versioning: the deployment this worker belongs to and the build it runs (e.g. the image tag or
   * git commit). Without a build ID the worker is unversioned (tests); `npm start` derives one from the source.
   */
  TEMPORAL_DEPLOYMENT_NAME: z.string().min(1).default('harvest-to-door'),
  TEMPORAL_WORKER_BUILD_ID: optionalString,
  /**
   * On start, make this worker's build the deployment's current version (`npm start` and compose do). Leave it off
   * for a rollout that ramps or checks first (`temporal worker deployment set-current-version`).
   */
  TEMPORAL_SET_CURRENT_VERSION: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
  /**
   * Tuning knob: JSON object of Temporal WorkerOptions merged over the worker's own (e.g.
   * `{"maxCachedWorkflows":2000,"maxConcurrentActivityTaskExecutions":200}`); unset: the SDK's defaults.
   */
  WORKER_OPTIONS_JSON: optionalString.pipe(
    z
      .string()
      .optional()
      .transform((text, ctx) => {
        if (text === undefined) return undefined;
        try {
          const parsed: unknown = JSON.parse(text);
          if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
            return parsed as Record<string, unknown>;
        } catch {
          // reported below
        }
        ctx.addIssue({ code: 'custom', message: 'must be a JSON object of WorkerOptions' });
        return z.NEVER;
      }),
  ),
  /** Prebuilt workflow bundle (`npm run build` writes dist/workflow-bundle.js); unset: bundle at start-up. */
  WORKFLOW_BUNDLE_PATH: optionalString,

  /** Tracing exporter: none (default), otlp (OTLP over HTTP) or console. */
  OTEL_TRACES_EXPORTER: z.enum(['none', 'otlp', 'console']).default('none'),
  /** OTLP/HTTP collector base URL; spans go to <endpoint>/v1/traces. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().default('http://127.0.0.1:4318'),

  API_HOST: z.string().default('127.0.0.1'),
  API_PORT: port(3000),
  /**
   * API keys, comma-separated `key:role:subject` with role customer|crew|admin; the subject is the
   * customer ID for customers. Unset outside production: the demo keys in src/api/auth.ts.
   * Required in production (no default secret ships there).
   */
  API_KEYS: optionalString,
  /** Requests per minute allowed per API key (or per client address without a key). */
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(600),
  /**
   * How long `POST /orders` waits for the order's workflow to reserve the stock and open the harvest task before it
   * answers 503 `order-pending` (the order goes on; the same Idempotency-Key gets its answer later).
   */
  ORDER_ACCEPT_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  /** Base URL the API prints in `Location` headers and the quick-start curl. */
  PUBLIC_BASE_URL: optionalString,

  /**
   * Encryption of every Temporal payload (workflow, activity, signal, update and query data, failure messages).
   * `off` exists for comparisons outside production (the benchmark's codec scenario); production refuses it.
   */
  PAYLOAD_ENCRYPTION: z.preprocess(
    (value) => (typeof value === 'string' && value.trim() === '' ? undefined : value),
    z.enum(['on', 'off']).default('on'),
  ),
  /**
   * Payload keys, `id:base64key` entries separated by commas: the first encrypts, all decrypt (rotation). Required in
   * production (or PAYLOAD_KEYS_FILE). Unset outside production: `<data folder>/payload-keys`, created once.
   */
  PAYLOAD_KEYS: optionalString,
  /** A file holding the payload keys in the same format (a mounted secret), instead of PAYLOAD_KEYS. */
  PAYLOAD_KEYS_FILE: optionalString,
  /** The codec server (Temporal's remote codec protocol) through which the Web UI and the CLI decode payloads. */
  CODEC_SERVER_HOST: z.string().default('127.0.0.1'),
  CODEC_SERVER_PORT: port(8234),
  /**
   * Bearer token of the codec server. Required in production. Unset outside production: `<data folder>/codec-token`,
   * created once.
   */
  CODEC_SERVER_TOKEN: optionalString.refine((value) => value === undefined || value.trim().length >= 16, {
    message: 'must be at least 16 characters (openssl rand -hex 32)',
  }),
  /** Comma-separated origins of the Web UIs allowed to call the codec server from a browser (CORS). */
  CODEC_SERVER_CORS_ORIGINS: optionalString,

  /**
   * Provider sandbox: Stripe's, EasyPost's and an SMTP server's protocols. Providers without credentials below use it;
   * unset: `npm start` runs one locally whenever a provider has no credentials.
   */
  SANDBOX_URL: optionalString,
  SANDBOX_HOST: z.string().default('127.0.0.1'),
  SANDBOX_PORT: port(4010),
  /** The sandbox's SMTP listener, on SANDBOX_HOST (and, for the worker, on SANDBOX_URL's host). */
  SANDBOX_SMTP_PORT: port(2525),
  /** Where the sandbox keeps its own records (payments, shipments, messages). Unset: database `sandbox` beside DATABASE_URL. */
  SANDBOX_DATABASE_URL: optionalString,
  /**
   * Production only: let providers without credentials use SANDBOX_URL. Without it a production worker refuses to
   * start rather than send payments, labels or e-mail to a simulator.
   */
  ALLOW_SANDBOX_PROVIDERS: z.enum(['true', 'false']).default('false'),
  /** Timeout for one provider call (HTTP request, or SMTP command); a lost response is retried with the same key. */
  PROVIDER_TIMEOUT_MS: z.coerce.number().int().min(50).max(120_000).default(5_000),

  /** Stripe secret key (`sk_test_...` for test mode). Set: payments go to Stripe's API; unset: to the sandbox. */
  STRIPE_SECRET_KEY: optionalString,
  /** SMTP relay, e.g. `smtps://user:pass@smtp.example.com:465` or `smtp://host:587` (STARTTLS). Unset: the sandbox. */
  SMTP_URL: optionalString,
  /** Sender of customer e-mail; its domain is the domain of every Message-ID. */
  MAIL_FROM: z.string().default('Harvest to Door <orders@harvest-to-door.example>'),
  /** EasyPost API key. Set: labels go to EasyPost's API (the two carrier accounts below are then required). */
  EASYPOST_API_KEY: optionalString,
  /** EasyPost carrier account (`ca_...`) and service of the primary carrier; defaults: the sandbox's. */
  EASYPOST_PRIMARY_CARRIER_ACCOUNT: optionalString,
  EASYPOST_PRIMARY_SERVICE: z.string().default(SANDBOX_CARRIER_ACCOUNTS.primary.service),
  /** EasyPost carrier account and service of the backup carrier; defaults: the sandbox's. */
  EASYPOST_BACKUP_CARRIER_ACCOUNT: optionalString,
  EASYPOST_BACKUP_SERVICE: z.string().default(SANDBOX_CARRIER_ACCOUNTS.backup.service),
  /** Where parcels ship from (the farm), JSON in EasyPost's address shape. */
  SHIP_FROM_ADDRESS: z
    .string()
    .default(
      '{"company":"Harvest to Door Farm","street1":"1 Farm Road","city":"Greenfield","zip":"01301","country":"US","phone":"4155550100"}',
    )
    .transform((raw, ctx) => {
      const parsed = shipFromSchema.safeParse(parseJsonOrUndefined(raw));
      if (parsed.success) return parsed.data;
      ctx.addIssue({ code: 'custom', message: 'must be JSON with street1, city, zip and country (EasyPost address)' });
      return z.NEVER;
    }),

  /**
   * Demo only: a simulated field crew completes open harvest tasks with full yields after this
   * many milliseconds. `npm start` enables it (5000); set to 0 to complete tasks by hand.
   */
  CREW_SIMULATOR_DELAY_MS: z.coerce.number().int().min(0).default(0),
});

export type Config = z.infer<typeof configSchema>;

/** Parse configuration from an environment, throwing one readable error listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`Invalid configuration:\n${problems.join('\n')}`);
  }
  return { ...parsed.data, HTD_DATA_DIR: path.resolve(parsed.data.HTD_DATA_DIR) };
}

/** Names of every variable the configuration understands (used by the compose wiring test). */
export const CONFIG_KEYS = Object.keys(configSchema.shape) as (keyof Config)[];

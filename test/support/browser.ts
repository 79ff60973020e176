import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { PROJECT_ROOT } from '../../src/lib/binaries';

/**
 * The one way browser tests get a real Chromium. In order: `CHROMIUM_PATH`; the system's (Debian's
 * /usr/bin/chromium and its usual names); else the headless Chromium that the dev dependency
 * `@sparticuz/chromium` ships compressed inside the npm package, unpacked once per version into a folder of the
 * temporary directory. So `npm install` is all a machine needs.
 */
export interface FoundChromium {
  executablePath: string;
  args: string[];
  source: 'CHROMIUM_PATH' | 'system' | '@sparticuz/chromium';
}

const SYSTEM_CHROMIUMS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** Flags every Chromium needs here: no sandbox as root, no GPU, nothing reaching out to the internet. */
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

function packagedChromium(): FoundChromium {
  const pkg = path.join(PROJECT_ROOT, 'node_modules', '@sparticuz', 'chromium');
  const { version } = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8')) as { version: string };
  // The package unpacks into the temporary directory: give it a folder of its own, and one test file at a time.
  const dir = path.join(os.tmpdir(), `htd-chromium-${version}`);
  fs.mkdirSync(dir, { recursive: true });
  const lock = `${dir}.lock`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`${lock} is held for two minutes; remove it if no test runs`);
      execFileSync('sleep', ['0.2']);
    }
  }
  try {
    // The package is ESM-only and Jest runs CommonJS, so a plain Node process unpacks it.
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "import c from '@sparticuz/chromium'; console.log(JSON.stringify({ path: await c.executablePath(), args: c.args }));",
      ],
      { cwd: PROJECT_ROOT, env: { ...process.env, TMPDIR: dir }, encoding: 'utf8' },
    );
    const found = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { path: string; args: string[] };
    return { executablePath: found.path, args: [...found.args, ...FLAGS], source: '@sparticuz/chromium' };
  } finally {
    fs.rmdirSync(lock);
  }
}

/** Find a Chromium, as described above. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): FoundChromium {
  if (env.CHROMIUM_PATH) {
    if (!fs.existsSync(env.CHROMIUM_PATH)) throw new Error(`CHROMIUM_PATH=${env.CHROMIUM_PATH} does not exist`);
    return { executablePath: env.CHROMIUM_PATH, args: FLAGS, source: 'CHROMIUM_PATH' };
  }
  const system = SYSTEM_CHROMIUMS.find((file) => fs.existsSync(file));
  if (system) return { executablePath: system, args: FLAGS, source: 'system' };
  return packagedChromium();
}

/** Launch a headless Chromium found by findChromium. */
export function launchBrowser(): Promise<Browser> {
  const found = findChromium();
  return chromium.launch({ executablePath: found.executablePath, headless: true, args: found.args });
}

/** Launch a headless Chromium (the codec's browser test's name for launchBrowser). */
export const launchChromium = launchBrowser;

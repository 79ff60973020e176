#!/usr/bin/env node
// Runs after `npm install` in this project (not for its dependencies): generate the Prisma client
// and fetch the pinned Temporal binaries. Both are idempotent.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const run = (script, ...args) =>
  execFileSync(process.execPath, [path.join(here, script), ...args], { stdio: 'inherit' });
run('prisma-generate.mjs');
if (process.env.HTD_SKIP_TOOLS === '1') console.log('[tools] HTD_SKIP_TOOLS=1: not installing Temporal binaries');
else run('install-tools.mjs');

#!/usr/bin/env node
// `prisma generate` does not run Prisma's schema engine, but Prisma 7 still tries to download it
// first, which fails on machines without internet. Naming any file in PRISMA_SCHEMA_ENGINE_BINARY
// skips that download; we only do so when the caller has not set it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const env = { ...process.env };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY) {
  const placeholder = path.join(os.tmpdir(), 'htd-prisma-schema-engine-placeholder');
  fs.writeFileSync(
    placeholder,
    '#!/bin/sh\necho "placeholder: prisma generate does not need the schema engine" >&2\nexit 1\n',
    { mode: 0o755 },
  );
  env.PRISMA_SCHEMA_ENGINE_BINARY = placeholder;
}
env.PRISMA_HIDE_UPDATE_MESSAGE = '1';
const cli = path.join(root, 'node_modules', 'prisma', 'build', 'index.js');
execFileSync(process.execPath, [cli, 'generate'], { cwd: root, env, stdio: 'inherit' });

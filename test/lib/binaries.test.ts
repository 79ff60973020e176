import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BinaryNotFoundError, requireBinaryPath, resolveBinary, TOOLS_BIN } from '../../src/lib/binaries';

function fakeBinary(dir: string, name: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, '#!/bin/sh\n', { mode: 0o755 });
  return file;
}

describe('binary resolution', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'htd-bin-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('when the env var names an executable, then it wins over PATH', () => {
    const explicit = fakeBinary(dir, 'temporal');
    const onPath = fs.mkdtempSync(path.join(dir, 'path-'));
    fakeBinary(onPath, 'temporal');
    expect(resolveBinary('temporal', { TEMPORAL_CLI_PATH: explicit, PATH: onPath })).toEqual({
      kind: 'path',
      path: explicit,
      source: 'env',
    });
  });

  it('when the env var names a missing file, then the error says so instead of silently falling back', () => {
    expect(() => resolveBinary('temporal', { TEMPORAL_CLI_PATH: path.join(dir, 'nope') })).toThrow(
      /TEMPORAL_CLI_PATH=.*nope/,
    );
  });

  it('when the binary is on PATH, then PATH is used', () => {
    const onPath = fs.mkdtempSync(path.join(dir, 'path-'));
    const file = fakeBinary(onPath, 'temporal-test-server');
    expect(resolveBinary('temporal-test-server', { PATH: onPath })).toEqual({
      kind: 'path',
      path: file,
      source: 'PATH',
    });
  });

  it('when neither env nor PATH has it, then the project tools folder is used if present, else the SDK download', () => {
    const resolved = resolveBinary('temporal', { PATH: '' });
    if (fs.existsSync(path.join(TOOLS_BIN, 'temporal'))) {
      expect(resolved).toEqual({ kind: 'path', path: path.join(TOOLS_BIN, 'temporal'), source: 'tools' });
    } else {
      expect(resolved.kind).toBe('sdk-download');
    }
  });

  it('when nothing is found and downloads are off, then one error names everything tried and how to install', () => {
    const env = { PATH: '', HTD_NO_DOWNLOAD: '1' };
    const local = path.join(TOOLS_BIN, 'temporal');
    if (fs.existsSync(local)) return expect(requireBinaryPath('temporal', env)).toBe(local);
    let error: unknown;
    try {
      requireBinaryPath('temporal', env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BinaryNotFoundError);
    expect((error as Error).message).toMatch(/TEMPORAL_CLI_PATH[\s\S]*PATH[\s\S]*\.tools[\s\S]*npm run tools/);
  });
});

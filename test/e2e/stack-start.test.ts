import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/lib/binaries';
import { freePort } from '../../src/lib/net';

/**
 * `npm start` with a piece that dies during start-up (a "Temporal CLI" that exits at once): the stack stops, says
 * which process died, exits 1, and never prints the banner that says everything runs.
 */
describe('npm start with a broken piece', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'htd-broken-'));
  // mkdtemp makes it 0700; as root, PostgreSQL keeps its cluster inside when its user can enter.
  fs.chmodSync(dataDir, 0o755);
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('when the dev server exits during start-up, then everything stops, it exits 1, and no banner is printed', async () => {
    const port = async () => String(await freePort());
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/stack.ts'], {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        HTD_DATA_DIR: dataDir,
        TEMPORAL_CLI_PATH: '/bin/false',
        API_PORT: await port(),
        SANDBOX_PORT: await port(),
        TEMPORAL_DEV_PORT: await port(),
        TEMPORAL_UI_PORT: await port(),
        EMBEDDED_POSTGRES_PORT: await port(),
        WORKER_METRICS_ADDRESS: `127.0.0.1:${await port()}`,
        DATABASE_URL: '',
        TEMPORAL_ADDRESS: '',
        SANDBOX_URL: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));

    expect(code).toBe(1);
    expect(output).toContain('[temporal] exited');
    expect(output).toContain('Stopped.');
    expect(output).not.toContain('harvest-to-door is running');
    // PostgreSQL, started before the dev server, was stopped too.
    expect(fs.existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
  }, 90_000);
});

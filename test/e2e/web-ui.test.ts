import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { freePort } from '../../src/lib/net';
import { launchBrowser } from '../support/browser';

/**
 * The embedded stack exactly as `npm start` runs it, seen through a real browser: a real Chromium
 * (test/support/browser.ts: CHROMIUM_PATH, the system's, or the one the npm dev dependency ships) opens the Temporal
 * Web UI for one order and finds the run, its search attributes and its status query. Also checks the API's /metrics
 * after the order completed, and that the UI shows the order's input decrypted through the codec server, which
 * refuses a caller without its token.
 */
describe('embedded stack in a real browser', () => {
  let stack: ChildProcess | undefined;
  let browser: Browser | undefined;
  let output = '';
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'htd-ui-'));
  // mkdtemp makes it 0700; PostgreSQL runs as its own user when we are root and must reach its folder inside.
  fs.chmodSync(dataDir, 0o755);
  const ports: Record<string, number> = {};

  beforeAll(async () => {
    for (const name of [
      'API_PORT',
      'SANDBOX_PORT',
      'TEMPORAL_DEV_PORT',
      'TEMPORAL_UI_PORT',
      'EMBEDDED_POSTGRES_PORT',
      'METRICS',
      'SANDBOX_SMTP_PORT',
      'CODEC_SERVER_PORT',
    ]) {
      ports[name] = await freePort();
    }
    stack = spawn(process.execPath, ['--import', 'tsx', 'src/stack.ts'], {
      cwd: path.resolve(__dirname, '..', '..'),
      env: {
        ...process.env,
        HTD_DATA_DIR: dataDir,
        API_PORT: String(ports.API_PORT),
        SANDBOX_PORT: String(ports.SANDBOX_PORT),
        SANDBOX_SMTP_PORT: String(ports.SANDBOX_SMTP_PORT),
        TEMPORAL_DEV_PORT: String(ports.TEMPORAL_DEV_PORT),
        TEMPORAL_UI_PORT: String(ports.TEMPORAL_UI_PORT),
        EMBEDDED_POSTGRES_PORT: String(ports.EMBEDDED_POSTGRES_PORT),
        WORKER_METRICS_ADDRESS: `127.0.0.1:${ports.METRICS}`,
        CODEC_SERVER_PORT: String(ports.CODEC_SERVER_PORT),
        CREW_SIMULATOR_DELAY_MS: '300',
        // As a newcomer runs it: no keys, no token configured (npm start makes them in the data folder).
        PAYLOAD_ENCRYPTION: '',
        PAYLOAD_KEYS: '',
        PAYLOAD_KEYS_FILE: '',
        CODEC_SERVER_TOKEN: '',
        CODEC_SERVER_CORS_ORIGINS: '',
        DATABASE_URL: '',
        TEMPORAL_ADDRESS: '',
        SANDBOX_URL: '',
        STRIPE_SECRET_KEY: '',
        SMTP_URL: '',
        EASYPOST_API_KEY: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString('utf8');
        if (output.includes('harvest-to-door is running')) resolve();
      };
      stack?.stdout?.on('data', onData);
      stack?.stderr?.on('data', onData);
      stack?.once('exit', (code) => reject(new Error(`stack exited (${code}):\n${output}`)));
    });
    await ready;
    browser = await launchBrowser();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    if (stack && stack.exitCode === null) {
      const exited = new Promise((resolve) => stack?.once('exit', resolve));
      stack.kill('SIGINT');
      const timer = setTimeout(() => stack?.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('when an order completes, then the Web UI shows the run, its search attributes and its status query, and /metrics counts it', async () => {
    const api = `http://127.0.0.1:${ports.API_PORT}`;
    const auth = { Authorization: 'Bearer demo-customer-key', 'Content-Type': 'application/json' };
    const submitted = await fetch(`${api}/orders`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({
        lines: [{ sku: 'LET-BUTTER', quantity: 1 }],
        shippingAddress: { name: 'Dana', line1: '1 Lane', city: 'Town', postalCode: '12345', country: 'US' },
      }),
    });
    expect(submitted.status).toBe(202);
    const { orderId, workflowId } = (await submitted.json()) as { orderId: string; workflowId: string };
    let status = '';
    for (let i = 0; i < 600 && status !== 'COMPLETED'; i++) {
      const res = await fetch(`${api}/orders/${orderId}`, { headers: auth });
      status = res.ok ? ((await res.json()) as { status: string }).status : '';
      if (status !== 'COMPLETED') await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe('COMPLETED');

    const ui = `http://127.0.0.1:${ports.TEMPORAL_UI_PORT}`;
    const page = await browser!.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`${ui}/namespaces/default/workflows/${workflowId}`, { waitUntil: 'networkidle' });
    await page.getByText(workflowId).first().waitFor();
    expect(await page.innerText('main')).toMatch(/COMPLETED/i);

    await page.getByText('Search Attributes', { exact: true }).first().click();
    await page.getByText('"OrderStatus"').first().waitFor();
    const attributes = await page.innerText('main');
    expect(attributes).toContain('"OrderStatus": "COMPLETED"');
    expect(attributes).toContain('"CustomerId": "cust-demo"');

    await page.getByText('Queries', { exact: true }).first().click();
    await page.getByRole('button', { name: 'Run Query' }).click();
    await page.getByText('"timeline"').first().waitFor();
    const queried = await page.innerText('main');
    expect(queried).toContain(`"orderId": "${orderId}"`);
    expect(queried).toContain('"status": "COMPLETED"');

    // Operators list orders by status through the same search attribute.
    await page.goto(`${ui}/namespaces/default/workflows?query=${encodeURIComponent('OrderStatus="COMPLETED"')}`, {
      waitUntil: 'networkidle',
    });
    await page.getByText(workflowId).first().waitFor();

    const metrics = await (await fetch(`${api}/metrics`)).text();
    expect(metrics).toMatch(/htd_orders\{status="COMPLETED"\} [1-9]/);
    expect(metrics).toMatch(/htd_http_requests_total\{.*route="\/orders".*\} [1-9]/);
    const sdkMetrics = await (await fetch(`http://127.0.0.1:${ports.METRICS}/metrics`)).text();
    expect(sdkMetrics).toMatch(/temporal_workflow_completed/);
  });

  it('when an operator opens a run, then the Web UI shows its input decrypted by the codec server, which answers 401 without the token', async () => {
    const api = `http://127.0.0.1:${ports.API_PORT}`;
    const codec = `http://127.0.0.1:${ports.CODEC_SERVER_PORT}`;
    const auth = { Authorization: 'Bearer demo-customer-key', 'Content-Type': 'application/json' };
    const address = {
      name: 'Odile Quillfeather',
      line1: '7 Marrowbone Yard',
      city: 'Wickhamstead',
      postalCode: '54321',
      country: 'US',
    };
    const submitted = await fetch(`${api}/orders`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ lines: [{ sku: 'LET-BUTTER', quantity: 1 }], shippingAddress: address }),
    });
    expect(submitted.status).toBe(202);
    const { orderId, workflowId } = (await submitted.json()) as { orderId: string; workflowId: string };
    let status = '';
    for (let i = 0; i < 600 && status !== 'COMPLETED'; i++) {
      const res = await fetch(`${api}/orders/${orderId}`, { headers: auth });
      status = res.ok ? ((await res.json()) as { status: string }).status : '';
      if (status !== 'COMPLETED') await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe('COMPLETED');

    // npm start made the key and the token once, readable by their owner only.
    for (const file of ['payload-keys', 'codec-token']) {
      expect({ file, mode: fs.statSync(path.join(dataDir, file)).mode & 0o777 }).toEqual({ file, mode: 0o600 });
    }
    const token = fs.readFileSync(path.join(dataDir, 'codec-token'), 'utf8').trim();
    // What Temporal keeps on disk holds none of it.
    const store = Buffer.concat(
      ['temporal.db', 'temporal.db-wal']
        .map((file) => path.join(dataDir, file))
        .filter((file) => fs.existsSync(file))
        .map((file) => fs.readFileSync(file)),
    );
    for (const value of [address.name, address.line1, address.city])
      expect(store.includes(Buffer.from(value))).toBe(false);

    const ui = `http://127.0.0.1:${ports.TEMPORAL_UI_PORT}`;
    const page = await browser!.newPage({ viewport: { width: 1400, height: 1000 } });
    const decodes: number[] = [];
    page.on('response', (response) => {
      if (response.url().startsWith(`${codec}/ui/`) && response.url().includes('/decode'))
        decodes.push(response.status());
    });
    await page.goto(`${ui}/namespaces/default/workflows/${workflowId}`, { waitUntil: 'networkidle' });
    await page.getByText(address.line1).first().waitFor({ timeout: 30_000 });
    const shown = await page.innerText('main');
    expect(shown).toContain(address.name);
    expect(shown).toContain(address.city);
    expect(decodes.length).toBeGreaterThan(0);
    expect(decodes.every((code) => code === 200)).toBe(true);

    // From the UI's own origin, without the token: refused, and readable as a refusal (CORS allows that origin).
    const fromPage = await page.evaluate(async (url) => {
      const res = await fetch(`${url}/decode`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default' },
        body: '{"payloads":[]}',
      });
      return res.status;
    }, codec);
    expect(fromPage).toBe(401);
    const withoutToken = await fetch(`${codec}/decode`, { method: 'POST', body: '{"payloads":[]}' });
    expect(withoutToken.status).toBe(401);
    const withToken = await fetch(`${codec}/decode`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'X-Namespace': 'default' },
      body: '{"payloads":[]}',
    });
    expect(withToken.status).toBe(200);
  });
});

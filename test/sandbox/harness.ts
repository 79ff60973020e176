import { randomUUID } from 'node:crypto';
import { SandboxAdmin } from '../../src/providers/sandbox-admin';
import type { Address, Providers } from '../../src/providers/types';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { sandboxProviders } from '../support/providers';

/** A sandbox listening on ephemeral ports (HTTP, SMTP) over its own fresh database, with the adapters pointed at it. */
export interface SandboxHarness {
  db: TestDatabase;
  sandbox: RunningSandbox;
  url: string;
  /** The production adapters (official client libraries) with a generous timeout. */
  providers: Providers;
  /** Clients with a custom timeout, for lost-response cases. */
  clients(timeoutMs: number): Providers;
  admin: SandboxAdmin;
  /** Stop the sandbox and start it again on the same database (new port). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Start a sandbox for one test file. */
export async function startHarness(): Promise<SandboxHarness> {
  const db = await createTestDatabase({ migrate: false });
  const harness: SandboxHarness = {
    db,
    sandbox: await startSandbox({ databaseUrl: db.url, host: '127.0.0.1', port: 0 }),
    get url() {
      return this.sandbox.url;
    },
    get providers() {
      return sandboxProviders(this.sandbox);
    },
    clients(timeoutMs) {
      return sandboxProviders(this.sandbox, timeoutMs);
    },
    get admin() {
      return new SandboxAdmin(this.sandbox.url);
    },
    async restart() {
      await this.sandbox.close();
      this.sandbox = await startSandbox({ databaseUrl: db.url, host: '127.0.0.1', port: 0 });
    },
    async stop() {
      await this.sandbox.close();
      await db.drop();
    },
  };
  return harness;
}

/** A unique id, so tests sharing one sandbox never see each other's records. */
export const uid = (prefix: string): string => `${prefix}-${randomUUID()}`;

/** A deliverable address; override `postalCode` to hit the primary carrier's refusal. */
export const address = (overrides: Partial<Address> = {}): Address => ({
  name: 'Ada Grower',
  line1: '1 Orchard Lane',
  city: 'Appleton',
  postalCode: '12345',
  country: 'NL',
  ...overrides,
});

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('Expected the promise to reject');
}

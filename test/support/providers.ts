import { loadConfig } from '../../src/config';
import { createProviders } from '../../src/providers';
import type { Providers } from '../../src/providers/types';
import type { RunningSandbox } from '../../src/sandbox/server';

/**
 * The production adapters (Stripe, EasyPost, SMTP through their official client libraries), configured exactly as the
 * worker configures them from its environment, pointed at a sandbox. Only the variables named here are read: a
 * developer's real credentials in the shell never reach a test.
 */
export function sandboxProviders(sandbox: Pick<RunningSandbox, 'url' | 'smtpPort'>, timeoutMs = 5_000): Providers {
  const config = loadConfig({
    NODE_ENV: 'test',
    SANDBOX_URL: sandbox.url,
    SANDBOX_SMTP_PORT: String(sandbox.smtpPort),
    PROVIDER_TIMEOUT_MS: String(timeoutMs),
  });
  return createProviders(config).providers;
}

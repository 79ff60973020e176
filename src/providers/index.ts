import type { Config } from '../config';
import { SANDBOX_CARRIER_ACCOUNTS, SANDBOX_EASYPOST_KEY, SANDBOX_STRIPE_KEY } from '../sandbox/accounts';
import { createEasyPostCarriers } from './easypost';
import { createSmtpChannel } from './smtp';
import { createStripeGateway } from './stripe';
import type { Providers } from './types';

/** Provider interfaces, their adapters, and the errors activities see. */
export * from './types';
export * from './errors';
export { createStripeGateway, type StripeGatewayOptions } from './stripe';
export { createEasyPostCarriers, labelReference, pickupReference, type EasyPostCarriersOptions } from './easypost';
export { createSmtpChannel, notificationMessageId, type SmtpChannelOptions } from './smtp';
export { SandboxAdmin } from './sandbox-admin';

/** Where each provider's calls go: the real service (credentials set) or the sandbox. */
export interface ProviderTargets {
  payments: string;
  shipping: string;
  mail: string;
}

/** The configuration the provider adapters read. */
export type ProviderConfig = Pick<
  Config,
  | 'NODE_ENV'
  | 'SANDBOX_URL'
  | 'SANDBOX_SMTP_PORT'
  | 'ALLOW_SANDBOX_PROVIDERS'
  | 'PROVIDER_TIMEOUT_MS'
  | 'STRIPE_SECRET_KEY'
  | 'SMTP_URL'
  | 'MAIL_FROM'
  | 'EASYPOST_API_KEY'
  | 'EASYPOST_PRIMARY_CARRIER_ACCOUNT'
  | 'EASYPOST_PRIMARY_SERVICE'
  | 'EASYPOST_BACKUP_CARRIER_ACCOUNT'
  | 'EASYPOST_BACKUP_SERVICE'
  | 'SHIP_FROM_ADDRESS'
>;

/** Which providers have no credentials, so need the sandbox. */
export function providersWithoutCredentials(
  config: Pick<Config, 'STRIPE_SECRET_KEY' | 'SMTP_URL' | 'EASYPOST_API_KEY'>,
) {
  return [
    ...(config.STRIPE_SECRET_KEY ? [] : ['payments (STRIPE_SECRET_KEY)']),
    ...(config.EASYPOST_API_KEY ? [] : ['shipping (EASYPOST_API_KEY)']),
    ...(config.SMTP_URL ? [] : ['mail (SMTP_URL)']),
  ];
}

/**
 * The adapters, each pointed at the real service when its credentials are set and at the sandbox (SANDBOX_URL)
 * otherwise. A production process never falls back silently: a provider without credentials is an error there unless
 * ALLOW_SANDBOX_PROVIDERS=true says the sandbox is meant (the demo topology of docker-compose.yml).
 */
export function createProviders(config: ProviderConfig): {
  providers: Providers;
  targets: ProviderTargets;
  /** Close what the adapters keep open (the SMTP connection pool). */
  close: () => void;
} {
  const missing = providersWithoutCredentials(config);
  if (missing.length > 0 && config.NODE_ENV === 'production' && config.ALLOW_SANDBOX_PROVIDERS !== 'true') {
    throw new Error(
      `No credentials for ${missing.join(', ')}. In production every provider needs its credentials; ` +
        'set ALLOW_SANDBOX_PROVIDERS=true (with SANDBOX_URL) to run against the provider sandbox on purpose.',
    );
  }
  const sandbox = config.SANDBOX_URL?.replace(/\/+$/, '');
  if (missing.length > 0 && !sandbox) {
    throw new Error(
      `No credentials for ${missing.join(', ')} and no SANDBOX_URL to simulate them (npm start sets it).`,
    );
  }
  const timeoutMs = config.PROVIDER_TIMEOUT_MS;

  const payments = createStripeGateway({
    secretKey: config.STRIPE_SECRET_KEY ?? SANDBOX_STRIPE_KEY,
    ...(config.STRIPE_SECRET_KEY ? {} : { baseUrl: sandbox }),
    timeoutMs,
  });

  const easypostKey = config.EASYPOST_API_KEY;
  if (easypostKey && (!config.EASYPOST_PRIMARY_CARRIER_ACCOUNT || !config.EASYPOST_BACKUP_CARRIER_ACCOUNT)) {
    throw new Error(
      'EASYPOST_API_KEY is set: EASYPOST_PRIMARY_CARRIER_ACCOUNT and EASYPOST_BACKUP_CARRIER_ACCOUNT are required',
    );
  }
  const shippingUrl = easypostKey ? undefined : `${sandbox}/v2/`;
  const carriers = createEasyPostCarriers({
    apiKey: easypostKey ?? SANDBOX_EASYPOST_KEY,
    ...(shippingUrl ? { baseUrl: shippingUrl } : {}),
    timeoutMs,
    accounts: {
      primary: {
        id: config.EASYPOST_PRIMARY_CARRIER_ACCOUNT ?? SANDBOX_CARRIER_ACCOUNTS.primary.id,
        service: config.EASYPOST_PRIMARY_SERVICE,
      },
      backup: {
        id: config.EASYPOST_BACKUP_CARRIER_ACCOUNT ?? SANDBOX_CARRIER_ACCOUNTS.backup.id,
        service: config.EASYPOST_BACKUP_SERVICE,
      },
    },
    fromAddress: config.SHIP_FROM_ADDRESS,
  });

  const smtpUrl =
    config.SMTP_URL ?? `smtp://${new URL(sandbox ?? 'http://127.0.0.1').hostname}:${config.SANDBOX_SMTP_PORT}`;
  const notifications = createSmtpChannel({
    url: smtpUrl,
    from: config.MAIL_FROM,
    timeoutMs,
    plaintext: !config.SMTP_URL,
  });

  return {
    providers: { payments, carriers, notifications },
    close: () => notifications.close(),
    targets: {
      payments: config.STRIPE_SECRET_KEY ? 'Stripe API (api.stripe.com)' : `sandbox ${sandbox}/v1`,
      shipping: easypostKey ? 'EasyPost API (api.easypost.com)' : `sandbox ${shippingUrl}`,
      mail: config.SMTP_URL ? `SMTP relay ${redact(config.SMTP_URL)}` : `sandbox ${smtpUrl}`,
    },
  };
}

/** A URL without its password, for logs. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'a relay';
  }
}

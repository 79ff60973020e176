/**
 * The carrier accounts of the sandbox's simulated shipping API: the two carriers the workflow knows as `primary` and
 * `backup`. The adapter's defaults point at these IDs when it talks to the sandbox; against EasyPost itself the IDs
 * come from configuration. No dependencies, so src/config.ts can use it.
 */
export const SANDBOX_CARRIER_ACCOUNTS = {
  primary: {
    id: 'ca_sandbox_primary',
    carrier: 'PrimaryPost',
    service: 'NextDay',
    trackingPrefix: 'PRI',
    rate: '7.40',
  },
  backup: { id: 'ca_sandbox_backup', carrier: 'BackupFreight', service: 'Ground', trackingPrefix: 'BAK', rate: '9.10' },
} as const;

/** The sandbox's Stripe account accepts any test-mode key; this one is used when no key is configured. */
export const SANDBOX_STRIPE_KEY = 'sk_test_sandbox';

/** The sandbox's shipping API accepts any key; this one is used when no key is configured. */
export const SANDBOX_EASYPOST_KEY = 'EZTKsandbox';

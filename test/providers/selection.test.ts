import { loadConfig } from '../../src/config';
import { createProviders } from '../../src/providers';

/** Which provider goes where: real credentials win, the sandbox stands in for the rest, never silently in production. */
describe('createProviders: real services or the sandbox', () => {
  const sandbox = { SANDBOX_URL: 'http://127.0.0.1:4010', SANDBOX_SMTP_PORT: '2525' };

  it('when no provider has credentials, then all three go to the sandbox', () => {
    const { targets } = createProviders(loadConfig({ NODE_ENV: 'development', ...sandbox }));
    expect(targets).toEqual({
      payments: 'sandbox http://127.0.0.1:4010/v1',
      shipping: 'sandbox http://127.0.0.1:4010/v2/',
      mail: 'sandbox smtp://127.0.0.1:2525',
    });
  });

  it('when some credentials are set, then those providers go to the real services and the others to the sandbox', () => {
    const { targets } = createProviders(
      loadConfig({
        NODE_ENV: 'development',
        ...sandbox,
        STRIPE_SECRET_KEY: 'sk_test_abc',
        SMTP_URL: 'smtps://mailer:secret@smtp.example.com:465',
      }),
    );
    expect(targets.payments).toBe('Stripe API (api.stripe.com)');
    expect(targets.mail).toBe('SMTP relay smtps://mailer:***@smtp.example.com:465');
    expect(targets.shipping).toBe('sandbox http://127.0.0.1:4010/v2/');
  });

  it('when production lacks credentials, then it refuses to start unless the sandbox is allowed on purpose', () => {
    const production = { NODE_ENV: 'production', ...sandbox, STRIPE_SECRET_KEY: 'sk_live_abc' };
    expect(() => createProviders(loadConfig(production))).toThrow(
      /No credentials for shipping \(EASYPOST_API_KEY\), mail \(SMTP_URL\).*ALLOW_SANDBOX_PROVIDERS=true/,
    );
    const allowed = createProviders(loadConfig({ ...production, ALLOW_SANDBOX_PROVIDERS: 'true' }));
    expect(allowed.targets.shipping).toMatch(/^sandbox /);
  });

  it('when a provider lacks credentials and there is no sandbox, then it refuses to start', () => {
    expect(() => createProviders(loadConfig({ NODE_ENV: 'development' }))).toThrow(/no SANDBOX_URL/);
  });

  it('when EASYPOST_API_KEY is set without both carrier accounts, then it refuses to start', () => {
    expect(() =>
      createProviders(loadConfig({ NODE_ENV: 'development', ...sandbox, EASYPOST_API_KEY: 'EZAK123' })),
    ).toThrow(/EASYPOST_PRIMARY_CARRIER_ACCOUNT and EASYPOST_BACKUP_CARRIER_ACCOUNT are required/);
  });

  it('when SHIP_FROM_ADDRESS is not an address, then the configuration is refused', () => {
    expect(() => loadConfig({ SHIP_FROM_ADDRESS: '{"city":"x"}' })).toThrow(/SHIP_FROM_ADDRESS/);
  });
});

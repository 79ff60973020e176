import type { NotificationRequest } from '../../src/providers/types';
import { startHarness, uid, type SandboxHarness } from './harness';

describe('sandbox notification channel', () => {
  let h: SandboxHarness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterEach(() => h.admin.clearFaults());
  afterAll(() => h.stop());

  const message = (overrides: Partial<NotificationRequest> = {}): NotificationRequest => ({
    idempotencyKey: uid('msg'),
    orderId: uid('order'),
    channel: 'email',
    to: 'ada@example.com',
    subject: 'Your order is on its way',
    body: 'Tracking: PRI000000000001',
    ...overrides,
  });

  it('when a message is sent twice with one key, then one message exists and both calls get its id', async () => {
    const req = message();
    const first = await h.providers.notifications.send(req);
    const second = await h.providers.notifications.send(req);
    expect(first.messageId).toMatch(/^msg_/);
    expect(second).toEqual(first);
    expect(await h.admin.listNotifications(req.orderId)).toEqual([
      expect.objectContaining({ id: first.messageId, channel: 'email', to: 'ada@example.com' }),
    ]);
  });

  it('when two messages with different keys are sent, then both are recorded', async () => {
    const orderId = uid('order');
    await h.providers.notifications.send(message({ orderId }));
    await h.providers.notifications.send(message({ orderId, channel: 'sms', to: '+31600000000', subject: '' }));
    expect((await h.admin.listNotifications(orderId)).map((n) => n.channel)).toEqual(['email', 'sms']);
  });

  it('when the same key carries a different body, then IdempotencyKeyReused is thrown', async () => {
    const req = message();
    await h.providers.notifications.send(req);
    await expect(h.providers.notifications.send({ ...req, body: 'changed' })).rejects.toMatchObject({
      type: 'IdempotencyKeyReused',
      nonRetryable: true,
    });
  });

  it('when the channel is flaky (failNext 2), then two ProviderUnavailableErrors precede one delivered message', async () => {
    await h.admin.setFaults({ notifications: { failNext: 2 } });
    const req = message();
    await expect(h.providers.notifications.send(req)).rejects.toMatchObject({ name: 'ProviderUnavailableError' });
    await expect(h.providers.notifications.send(req)).rejects.toMatchObject({ name: 'ProviderUnavailableError' });
    await expect(h.providers.notifications.send(req)).resolves.toEqual({ messageId: expect.stringMatching(/^msg_/) });
    expect(await h.admin.listNotifications(req.orderId)).toHaveLength(1);
  });
});

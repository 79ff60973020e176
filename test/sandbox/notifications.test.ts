import nodemailer from 'nodemailer';
import { notificationMessageId } from '../../src/providers/smtp';
import type { NotificationRequest } from '../../src/providers/types';
import type { SandboxMessage } from '../../src/sandbox/contract';
import { startHarness, uid, type SandboxHarness } from './harness';

const FROM = 'Harvest to Door <orders@harvest-to-door.example>';

/**
 * The e-mail adapter (`nodemailer` over SMTP) against the sandbox's SMTP listener (`smtp-server` + `mailparser`):
 * the Message-ID derived from order and kind, the HTML body, the listing over HTTP, and SMTP's at-least-once.
 */
describe('e-mail over SMTP: adapter and sandbox listener', () => {
  let h: SandboxHarness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterEach(() => h.admin.clearFaults());
  afterAll(() => h.stop());

  const message = (overrides: Partial<NotificationRequest> = {}): NotificationRequest => ({
    orderId: uid('order'),
    kind: 'confirmation',
    to: 'ada@example.com',
    subject: 'Your harvest is on its way',
    text: 'Tracking: PRI000000000001',
    html: '<!doctype html><html><body><h1>Receipt</h1><p id="total">$15.50</p></body></html>',
    ...overrides,
  });

  it('when a confirmation is sent, then the listener holds it with the derived Message-ID, the HTML body and its plain alternative', async () => {
    const req = message();
    const { messageId } = await h.providers.notifications.send(req);
    expect(messageId).toBe(`<${req.orderId}.confirmation@harvest-to-door.example>`);
    expect(messageId).toBe(notificationMessageId(req.orderId, 'confirmation', FROM));

    const [received] = await h.admin.listMessages(req.orderId);
    expect(received).toMatchObject({
      messageId,
      envelopeFrom: 'orders@harvest-to-door.example',
      envelopeTo: ['ada@example.com'],
      subject: req.subject,
      orderId: req.orderId,
      kind: 'confirmation',
      text: expect.stringContaining('PRI000000000001'),
      html: expect.stringContaining('<p id="total">$15.50</p>'),
    });

    const page = await fetch(`${h.url}/_mail/messages/${received!.id}/html`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await page.text()).toContain('<h1>Receipt</h1>');
  });

  it('when two kinds are sent for one order, then they are listed per kind with different Message-IDs', async () => {
    const orderId = uid('order');
    await h.providers.notifications.send(message({ orderId }));
    await h.providers.notifications.send(message({ orderId, kind: 'cancellation', html: undefined }));
    const all = await h.admin.listMessages(orderId);
    expect(all.map((m) => m.kind)).toEqual(['confirmation', 'cancellation']);
    expect(new Set(all.map((m) => m.messageId)).size).toBe(2);
    expect(await h.admin.listMessages(orderId, 'cancellation')).toEqual([
      expect.objectContaining({ kind: 'cancellation', html: null }),
    ]);
    const byRecipient = (await fetch(`${h.url}/_mail/messages?to=ada@example.com`).then((r) => r.json())) as {
      data: SandboxMessage[];
    };
    expect(byRecipient.data.map((m) => m.orderId)).toEqual(expect.arrayContaining([orderId]));
  });

  it('when the channel is flaky (failNext 2), then two temporary 451s are retryable and the third attempt delivers once', async () => {
    await h.admin.setFaults({ notifications: { failNext: 2 } });
    const req = message();
    for (let i = 0; i < 2; i++) {
      const error = await h.providers.notifications.send(req).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ name: 'ProviderUnavailableError', status: 451 });
      expect((error as Error).message).toMatch(
        /notifications unavailable: SMTP smtp:\/\/127\.0\.0\.1:\d+ answered 451/,
      );
    }
    await expect(h.providers.notifications.send(req)).resolves.toEqual({
      messageId: notificationMessageId(req.orderId, 'confirmation', FROM),
    });
    expect(await h.admin.listMessages(req.orderId)).toHaveLength(1);
  });

  it('when the final answer is lost, then the send times out although the message arrived, and a retry delivers a copy with the same Message-ID (at least once)', async () => {
    await h.admin.setFaults({ notifications: { timeoutNext: 1, hangMs: 2_000 } });
    const req = message();
    const client = h.clients(300);
    await expect(client.notifications.send(req)).rejects.toMatchObject({
      name: 'ProviderUnavailableError',
      message: expect.stringMatching(/timed out after 300 ms/),
    });
    await client.notifications.send(req);
    const copies = await h.admin.listMessages(req.orderId);
    expect(copies).toHaveLength(2);
    expect(new Set(copies.map((m) => m.messageId))).toEqual(
      new Set([notificationMessageId(req.orderId, 'confirmation', FROM)]),
    );
  });

  it('when any SMTP client sends, then the listener stores it too (it speaks plain SMTP, not only to our adapter)', async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: h.sandbox.smtpPort, ignoreTLS: true });
    const info = await transport.sendMail({
      from: 'someone@example.org',
      to: ['a@example.org', 'b@example.org'],
      subject: 'plain',
      text: 'hello',
      attachments: [{ filename: 'note.txt', content: 'attached' }],
    });
    const listed = (await fetch(`${h.url}/_mail/messages?to=b@example.org`).then((r) => r.json())) as {
      data: SandboxMessage[];
    };
    expect(listed.data).toEqual([
      expect.objectContaining({
        messageId: info.messageId,
        envelopeTo: ['a@example.org', 'b@example.org'],
        orderId: null,
        attachments: [expect.objectContaining({ filename: 'note.txt', contentType: 'text/plain' })],
      }),
    ]);
  });
});

import nodemailer from 'nodemailer';
import { ProviderFailureTypes, ProviderUnavailableError, providerRefusal } from './errors';
import type { NotificationChannel, NotificationKind } from './types';

/** Where mail goes and who it is from. */
export interface SmtpChannelOptions {
  /**
   * The relay, as a URL: `smtps://user:pass@host:465` (TLS), `smtp://user:pass@host:587` (STARTTLS when offered), or
   * the sandbox's `smtp://127.0.0.1:2525`.
   */
  url: string;
  /** The sender, e.g. `Harvest to Door <orders@example.com>`; its domain is the Message-ID's. */
  from: string;
  /** Budget for connecting, the greeting and each SMTP reply; past it the send counts as lost and is retried. */
  timeoutMs: number;
  /** The sandbox offers no TLS: do not try STARTTLS against it. */
  plaintext?: boolean;
}

const PROVIDER = 'notifications';

/** The domain of a sender such as `Name <user@domain>`. */
function senderDomain(from: string): string {
  return /@([^>\s]+)>?\s*$/.exec(from)?.[1] ?? 'harvest-to-door.invalid';
}

/**
 * The Message-ID of an order's message of one kind. SMTP has no idempotency keys: a send retried after a lost answer
 * may be delivered twice, and this ID is what lets the receiving side (and the sandbox's records) tell the copies of
 * one message apart from two messages.
 */
export function notificationMessageId(orderId: string, kind: NotificationKind, from: string): string {
  return `<${encodeURIComponent(orderId)}.${kind}@${senderDomain(from)}>`;
}

/**
 * E-mail over SMTP with `nodemailer`: the confirmation with the HTML receipt as its body (a plain-text alternative
 * beside it) and the cancellation notice, each with a Message-ID derived from the order and the kind, and the order
 * and kind in `X-Order-Id` / `X-Notification-Kind` headers. Connections are pooled: a server's greeting can take a
 * while (the sandbox's, like many MTAs, waits 100 ms to catch clients that talk too early), and one transaction per
 * message on a kept connection avoids paying it for every message. A connection that times out is dropped with the
 * message it carried, which is retried.
 */
export function createSmtpChannel(options: SmtpChannelOptions): NotificationChannel & { close(): void } {
  const transport = nodemailer.createTransport({
    url: options.url,
    pool: true,
    maxConnections: 4,
    connectionTimeout: options.timeoutMs,
    greetingTimeout: options.timeoutMs,
    socketTimeout: options.timeoutMs,
    ...(options.plaintext ? { ignoreTLS: true } : {}),
  } as Parameters<typeof nodemailer.createTransport>[0]);
  const where = new URL(options.url);
  const url = `${where.protocol}//${where.host}`;

  return {
    /** Close the pooled connections (on shutdown). */
    close() {
      transport.close();
    },
    async send(req) {
      const messageId = notificationMessageId(req.orderId, req.kind, options.from);
      try {
        await transport.sendMail({
          from: options.from,
          to: req.to,
          subject: req.subject,
          text: req.text,
          ...(req.html !== undefined ? { html: req.html } : {}),
          messageId,
          headers: { 'X-Order-Id': req.orderId, 'X-Notification-Kind': req.kind },
        });
      } catch (error) {
        throw mapSmtpError(error, { url, timeoutMs: options.timeoutMs });
      }
      return { messageId };
    },
  };
}

/**
 * SMTP's own split: 4xx replies are temporary (try again later), 5xx permanent (the address or the message is
 * refused). Connection failures and timeouts are transient; the message may have been accepted regardless.
 */
function mapSmtpError(error: unknown, context: { url: string; timeoutMs: number }): Error {
  const e = error as { code?: string; responseCode?: number; response?: string; message?: string };
  const unavailable = (reason: string, status?: number) =>
    new ProviderUnavailableError({
      provider: PROVIDER,
      method: 'SMTP',
      url: context.url,
      status,
      reason,
      cause: error,
    });
  const reply = typeof e?.responseCode === 'number' ? e.responseCode : undefined;
  if (reply !== undefined && reply >= 500) {
    return providerRefusal(ProviderFailureTypes.ProviderRejected, {
      provider: PROVIDER,
      status: reply,
      code: e.code ?? 'SMTP',
      message: e.response ?? e.message ?? String(error),
    });
  }
  if (reply !== undefined) return unavailable(`answered ${e.response ?? reply}`, reply);
  if (e?.code === 'ETIMEDOUT') return unavailable(`timed out after ${context.timeoutMs} ms`);
  return unavailable(`failed: ${e?.code ? `${e.code} ` : ''}${e?.message ?? String(error)}`);
}

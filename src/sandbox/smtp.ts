import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { FaultInjector } from './faults';
import { newId } from './http';
import type { SandboxStore } from './store';

/**
 * The sandbox's mail server: an SMTP listener (plain SMTP, no TLS, any or no AUTH) that accepts every message,
 * parses it and stores it in PostgreSQL, where the HTTP side lists it (`GET /_mail/messages`).
 *
 * The `notifications` fault knobs apply per message: an outage or a drawn error answers the DATA with a temporary
 * `451` and stores nothing; a lost answer stores the message and then withholds the final `250` for `hangMs`, so the
 * client gives up on a message the server did accept - SMTP's own way of delivering twice.
 */

/** A listening SMTP server. */
export interface RunningSmtp {
  port: number;
  close(): Promise<void>;
}

/** An error whose `responseCode` becomes the SMTP reply code. */
function smtpError(code: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code });
}

/** Start the SMTP listener on `host:port` (0: an ephemeral port). */
export async function startSmtp(
  store: SandboxStore,
  faults: FaultInjector,
  options: { host: string; port: number; onError?: (error: unknown) => void },
): Promise<RunningSmtp> {
  // Pending waits (latency, withheld answers), ended early when the listener closes.
  const waits = new Set<() => void>();
  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const end = () => {
        clearTimeout(timer);
        waits.delete(end);
        resolve();
      };
      const timer = setTimeout(end, ms);
      waits.add(end);
    });

  async function receive(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<void> {
    const raw = await readAll(stream);
    const latency = faults.latencyMs('notifications');
    if (latency > 0) await wait(latency);
    const rejected = faults.reject('notifications');
    if (rejected) throw smtpError(451, `4.3.0 Simulated notifications fault (${rejected}); try again later`);
    const mail = await simpleParser(raw);
    const header = (name: string): string | null => {
      const value = mail.headers.get(name);
      return typeof value === 'string' ? value : null;
    };
    const envelopeFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    await store.insertMessage({
      id: newId('msg'),
      messageId: mail.messageId ?? null,
      envelopeFrom,
      envelopeTo: session.envelope.rcptTo.map((r) => r.address),
      subject: mail.subject ?? '',
      orderId: header('x-order-id'),
      kind: header('x-notification-kind'),
      text: mail.text ?? null,
      html: typeof mail.html === 'string' ? mail.html : null,
      attachments: mail.attachments.map((a) => ({
        filename: a.filename ?? null,
        contentType: a.contentType,
        size: a.size,
      })),
      sizeBytes: raw.length,
    });
    const hang = faults.hangMs('notifications');
    if (hang !== undefined) await wait(hang);
  }

  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    // A reverse DNS lookup per connection costs more than the whole SMTP transaction on loopback.
    disableReverseLookup: true,
    banner: 'harvest-to-door provider sandbox',
    size: 10 * 1024 * 1024,
    logger: false,
    // Close even while a "lost answer" is being withheld.
    closeTimeout: 200,
    onAuth(_auth, _session, callback) {
      callback(null, { user: 'sandbox' });
    },
    onData(stream, session, callback) {
      receive(stream, session).then(
        () => callback(),
        (error: unknown) => {
          if (error instanceof Error && 'responseCode' in error) return callback(error);
          options.onError?.(error);
          callback(smtpError(451, '4.3.0 The sandbox failed to store the message; try again later'));
        },
      );
    },
  });
  server.on('error', (error) => options.onError?.(error));

  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const end of [...waits]) end();
        server.close(() => resolve());
      }),
  };
}

function readAll(stream: SMTPServerDataStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('error', reject);
    stream.once('end', () => resolve(Buffer.concat(chunks)));
  });
}

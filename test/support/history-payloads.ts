import type { History } from '@temporalio/common/lib/proto-utils';
import { ENCRYPTED_ENCODING, KEY_ID_METADATA } from '../../src/codec/codec';

/**
 * Every payload and every failure in a history as Temporal stores it, found by walking the events, so tests can say
 * what is encrypted without naming each event type: payloads are objects with a `metadata.encoding`, failures
 * objects with a `message` and a `failureInfo`-style sibling.
 */
export interface FoundPayload {
  /** Where in the event, e.g. `workflowExecutionStartedEventAttributes.input.payloads.0`. */
  path: string;
  encoding: string;
  /** The key that encrypted it (encrypted payloads only). */
  keyId?: string;
  data: Buffer;
}

export interface FoundFailure {
  path: string;
  message: string;
  stackTrace: string;
  encodedAttributesEncoding?: string;
}

const text = (value: unknown) => (value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : '');

function walk(value: unknown, path: string, visit: (node: Record<string, unknown>, path: string) => void): void {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return;
  if (Array.isArray(value)) {
    value.forEach((item, index) => walk(item, `${path}.${index}`, visit));
    return;
  }
  const node = value as Record<string, unknown>;
  visit(node, path);
  for (const [key, child] of Object.entries(node)) walk(child, path ? `${path}.${key}` : key, visit);
}

/** The payloads of every event, with the event type in front of the path. */
export function payloadsOf(history: History): FoundPayload[] {
  const found: FoundPayload[] = [];
  for (const event of history.events ?? []) {
    walk(event, '', (node, path) => {
      const metadata = node.metadata as Record<string, unknown> | undefined;
      if (metadata && typeof metadata === 'object' && metadata.encoding instanceof Uint8Array) {
        const keyId = metadata[KEY_ID_METADATA];
        found.push({
          path,
          encoding: text(metadata.encoding),
          ...(keyId instanceof Uint8Array ? { keyId: text(keyId) } : {}),
          data: Buffer.from((node.data as Uint8Array) ?? []),
        });
      }
    });
  }
  return found;
}

export function failuresOf(history: History): FoundFailure[] {
  const found: FoundFailure[] = [];
  for (const event of history.events ?? []) {
    walk(event, '', (node, path) => {
      if (typeof node.message !== 'string' || !/(^|\.)(failure|cause)$/.test(path)) return;
      const encoded = node.encodedAttributes as { metadata?: Record<string, Uint8Array> } | null | undefined;
      found.push({
        path,
        message: node.message,
        stackTrace: typeof node.stackTrace === 'string' ? node.stackTrace : '',
        ...(encoded?.metadata ? { encodedAttributesEncoding: text(encoded.metadata.encoding) } : {}),
      });
    });
  }
  return found;
}

/**
 * Payloads that are not encrypted, except the ones that are plaintext by design: search attributes (Temporal indexes
 * them) and the SDK core's own marker data: a local activity's (activity type, attempt, times; the result beside it
 * is encrypted) and a patch's (its ID). Returned as `<path> <encoding>` lines, readable in a failing test.
 */
export function plaintextPayloads(history: History): string[] {
  return payloadsOf(history)
    .filter(
      (p) =>
        p.encoding !== ENCRYPTED_ENCODING &&
        !/searchAttributes\.indexedFields/.test(p.path) &&
        !/^markerRecordedEventAttributes\.details\.(data|patch-data)\./.test(p.path),
    )
    .map((p) => `${p.path} ${p.encoding}`);
}

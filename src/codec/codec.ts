import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { KeyRing } from './keys';

/**
 * The payload codec: every payload the project's clients and workers hand to Temporal is encrypted with AES-256-GCM
 * before it leaves the process, so Temporal's store (and its backups, or Temporal Cloud) holds only ciphertext.
 *
 * An encrypted payload is `{ metadata: { encoding: 'binary/encrypted', 'encryption-key-id': <id> }, data }` where
 * data is nonce (12 random bytes, fresh for each payload) || ciphertext || GCM tag (16 bytes). The plaintext is the
 * whole original payload (its metadata too: the JSON encoding name and the message type say something about the
 * data), serialized as the Payload protobuf. The key ID is authenticated as additional data, so a payload cannot be
 * relabelled to another key.
 *
 * Decoding leaves payloads that are not encrypted as they are: histories written before encryption was turned on
 * still replay and still show in the Web UI.
 */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const CIPHER = 'aes-256-gcm';
const ProtoPayload = temporal.api.common.v1.Payload;

/** A payload names a key the key ring does not have. */
export class UnknownPayloadKeyError extends Error {
  constructor(
    readonly keyId: string,
    known: readonly string[],
  ) {
    super(
      `Payload is encrypted with key "${keyId}", which is not in this process's key ring (it has: ${known.join(', ')}). ` +
        `Add the key "${keyId}" to PAYLOAD_KEYS (behind the current one) to read it.`,
    );
    this.name = 'UnknownPayloadKeyError';
  }
}

/** A payload that claims to be encrypted but does not decrypt: altered, truncated, or the wrong key under that ID. */
export class PayloadDecryptionError extends Error {
  constructor(
    readonly keyId: string,
    reason: string,
  ) {
    super(`Payload encrypted with key "${keyId}" could not be decrypted: ${reason}`);
    this.name = 'PayloadDecryptionError';
  }
}

const text = (value: Uint8Array | null | undefined): string | undefined =>
  value ? Buffer.from(value).toString('utf8') : undefined;

export function isEncrypted(payload: Payload): boolean {
  return text(payload.metadata?.encoding) === ENCRYPTED_ENCODING;
}

/** The ID of the key that encrypted `payload`, or undefined for a payload that is not encrypted. */
export function payloadKeyId(payload: Payload): string | undefined {
  return isEncrypted(payload) ? (text(payload.metadata?.[KEY_ID_METADATA]) ?? '') : undefined;
}

export class AesGcmPayloadCodec implements PayloadCodec {
  constructor(private readonly ring: KeyRing) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.encrypt(payload));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => (isEncrypted(payload) ? this.decrypt(payload) : payload));
  }

  encrypt(payload: Payload): Payload {
    const { id, material } = this.ring.current;
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv(CIPHER, material, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(id, 'utf8'));
    const plaintext = ProtoPayload.encode(payload).finish();
    const data = Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: { encoding: Buffer.from(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: Buffer.from(id, 'utf8') },
      data,
    };
  }

  decrypt(payload: Payload): Payload {
    const keyId = payloadKeyId(payload) ?? '';
    const key = this.ring.byId.get(keyId);
    if (!key) throw new UnknownPayloadKeyError(keyId, [...this.ring.byId.keys()]);
    const data = Buffer.from(payload.data ?? []);
    if (data.length < NONCE_BYTES + TAG_BYTES) throw new PayloadDecryptionError(keyId, 'it is too short');
    const decipher = createDecipheriv(CIPHER, key.material, data.subarray(0, NONCE_BYTES), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(Buffer.from(keyId, 'utf8'));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plaintext: Buffer;
    try {
      plaintext = Buffer.concat([
        decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new PayloadDecryptionError(keyId, 'authentication failed (the payload was altered, or it is another key)');
    }
    const decoded = ProtoPayload.decode(plaintext);
    return {
      metadata: { ...decoded.metadata },
      data: decoded.data,
      ...(decoded.externalPayloads.length > 0 ? { externalPayloads: decoded.externalPayloads } : {}),
    };
  }
}

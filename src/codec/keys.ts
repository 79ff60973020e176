import { randomBytes } from 'node:crypto';
import fs from 'node:fs';

/**
 * The keys that encrypt customer data in Temporal's payloads (src/codec/codec.ts).
 *
 * A key ring has one key that encrypts (the first) and any number that only decrypt, so a key can be rotated without
 * losing the histories it encrypted: put the new key first and keep the old one behind it until no open run and no
 * history you still need to read was written with it.
 *
 * The format, in `PAYLOAD_KEYS` or a keys file, is `id:base64key` entries separated by commas or new lines, e.g.
 * `k2:9Jx...=,k1:Qw7...=`. A key is 32 random bytes (AES-256); `openssl rand -base64 32` makes one. The ID travels
 * in every encrypted payload's metadata (never the key), so it must not be secret; keep it short.
 */

/** AES-256: 32 bytes of key material. */
export const KEY_BYTES = 32;

export interface PayloadKey {
  /** Names the key in each payload it encrypts (`encryption-key-id` metadata). */
  readonly id: string;
  readonly material: Buffer;
}

export interface KeyRing {
  /** The key new payloads are encrypted with. */
  readonly current: PayloadKey;
  /** Every key that may decrypt, by ID (the current one included). */
  readonly byId: ReadonlyMap<string, PayloadKey>;
}

/**
 * Where a process gets its key ring. The configuration's keys (`PAYLOAD_KEYS`, a keys file) are one source; a KMS
 * or secrets manager is another: implement `keys()` to fetch (or unwrap) the key material there and return the ring.
 * It is called once per process start, before the first payload is encoded.
 */
export interface KeySource {
  /** Where the keys come from, for log lines and errors (never the keys themselves). */
  readonly description: string;
  keys(): Promise<KeyRing>;
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Parse `id:base64key` entries (commas or new lines between them; `#` starts a comment line in a file). */
export function parseKeyRing(spec: string, where: string): KeyRing {
  const entries = spec
    .split(/\r?\n/)
    .filter((line) => !line.trim().startsWith('#'))
    .join(',')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new Error(`${where} holds no key: expected id:base64key entries`);
  const keys = entries.map((entry, index) => parseKey(entry, `${where} entry ${index + 1}`));
  const byId = new Map<string, PayloadKey>();
  for (const key of keys) {
    if (byId.has(key.id)) throw new Error(`${where} names key "${key.id}" twice`);
    byId.set(key.id, key);
  }
  return { current: keys[0] as PayloadKey, byId };
}

function parseKey(entry: string, where: string): PayloadKey {
  const colon = entry.indexOf(':');
  const id = colon < 0 ? '' : entry.slice(0, colon);
  const encoded = colon < 0 ? '' : entry.slice(colon + 1).trim();
  // The message never repeats the entry: it holds key material.
  if (!KEY_ID.test(id)) throw new Error(`${where} is not id:base64key (an ID of letters, digits, . _ -, then a colon)`);
  const material = Buffer.from(encoded, 'base64');
  if (!BASE64.test(encoded) || material.toString('base64') !== encoded) {
    throw new Error(`${where} (key "${id}"): the key is not valid base64`);
  }
  if (material.length !== KEY_BYTES) {
    throw new Error(
      `${where} (key "${id}"): the key is ${material.length} bytes, AES-256 needs ${KEY_BYTES} (openssl rand -base64 32)`,
    );
  }
  return { id, material };
}

/** A fresh `id:base64key` entry. */
export function generateKeyEntry(id: string): string {
  return `${id}:${randomBytes(KEY_BYTES).toString('base64')}`;
}

/** Keys given inline (`PAYLOAD_KEYS`). */
export function inlineKeySource(spec: string, description = 'PAYLOAD_KEYS'): KeySource {
  const ring = parseKeyRing(spec, description);
  return { description, keys: async () => ring };
}

/** Keys in a file (`PAYLOAD_KEYS_FILE`, a mounted secret), read when the process starts. */
export function fileKeySource(file: string): KeySource {
  const description = `keys file ${file}`;
  return {
    description,
    keys: async () => parseKeyRing(await fs.promises.readFile(file, 'utf8'), description),
  };
}

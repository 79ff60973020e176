import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import {
  AesGcmPayloadCodec,
  ENCRYPTED_ENCODING,
  KEY_ID_METADATA,
  PayloadDecryptionError,
  UnknownPayloadKeyError,
  payloadKeyId,
} from '../../src/codec/codec';
import { codecServerToken, ensureLocalKeyFile, localKeyFile } from '../../src/codec/bootstrap';
import { dataConverterFor, keySourceFor } from '../../src/codec/data-converter';
import { generateKeyEntry, parseKeyRing } from '../../src/codec/keys';
import { loadConfig } from '../../src/config';

const k1 = generateKeyEntry('k1');
const k2 = generateKeyEntry('k2');
const order = { name: 'Ada Lovelace', line1: '12 Analytical Row', city: 'Marylebone', email: 'ada@example.org' };
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('latin1');
const toPayload = (value: unknown): Payload => defaultPayloadConverter.toPayload(value);

describe('payload codec (AES-256-GCM)', () => {
  const codec = new AesGcmPayloadCodec(parseKeyRing(k1, 'test'));

  it('when a payload is encoded, then its data and its original metadata are ciphertext and the key ID is in the metadata', async () => {
    const [encrypted] = await codec.encode([toPayload(order)]);
    expect(text(encrypted?.metadata?.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(encrypted?.metadata?.[KEY_ID_METADATA])).toBe('k1');
    expect(Object.keys(encrypted?.metadata ?? {}).sort()).toEqual(['encoding', KEY_ID_METADATA].sort());
    for (const secret of [...Object.values(order), 'json/plain']) expect(text(encrypted?.data)).not.toContain(secret);
    const [decoded] = await codec.decode([encrypted as Payload]);
    expect(text(decoded?.metadata?.encoding)).toBe('json/plain');
    expect(defaultPayloadConverter.fromPayload(decoded as Payload)).toEqual(order);
  });

  it('when the same payload is encoded twice, then each gets a fresh nonce (different ciphertexts)', async () => {
    const [a, b] = await codec.encode([toPayload(order), toPayload(order)]);
    expect(Buffer.from(a?.data ?? []).subarray(0, 12)).not.toEqual(Buffer.from(b?.data ?? []).subarray(0, 12));
    expect(text(a?.data)).not.toBe(text(b?.data));
  });

  it('when a payload is not encrypted (a history from before encryption), then decoding leaves it as it is', async () => {
    const plain = toPayload(order);
    expect(await codec.decode([plain])).toEqual([plain]);
    expect(payloadKeyId(plain)).toBeUndefined();
  });

  it('when a payload names a key the ring does not have, then decoding fails with one error naming that key', async () => {
    const [encrypted] = await new AesGcmPayloadCodec(parseKeyRing(k2, 'test')).encode([toPayload(order)]);
    const error = await codec.decode([encrypted as Payload]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownPayloadKeyError);
    expect((error as Error).message).toMatch(/key "k2", which is not in this process's key ring \(it has: k1\)/);
    expect((error as UnknownPayloadKeyError).keyId).toBe('k2');
  });

  it('when the ciphertext is altered or relabelled with another key ID, then decoding refuses it', async () => {
    const [encrypted] = await codec.encode([toPayload(order)]);
    const data = Buffer.from(encrypted?.data ?? []);
    data[20] = (data[20] ?? 0) ^ 1;
    await expect(codec.decode([{ ...encrypted, data }])).rejects.toBeInstanceOf(PayloadDecryptionError);
    // Same key material under another ID: the ID is authenticated, so this fails too.
    const twin = new AesGcmPayloadCodec(parseKeyRing(`k1:${k1.split(':')[1]},k9:${k1.split(':')[1]}`, 'test'));
    const relabelled = { ...encrypted, metadata: { ...encrypted?.metadata, [KEY_ID_METADATA]: Buffer.from('k9') } };
    await expect(twin.decode([relabelled])).rejects.toBeInstanceOf(PayloadDecryptionError);
  });

  it('when the ring is k2,k1, then new payloads use k2 and payloads written with k1 still decode', async () => {
    const [old] = await codec.encode([toPayload(order)]);
    const rotated = new AesGcmPayloadCodec(parseKeyRing(`${k2},${k1}`, 'test'));
    const [fresh] = await rotated.encode([toPayload(order)]);
    expect(payloadKeyId(fresh as Payload)).toBe('k2');
    const decoded = await rotated.decode([old as Payload, fresh as Payload]);
    expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([order, order]);
  });
});

describe('payload key ring configuration', () => {
  it.each([
    ['', /holds no key/],
    ['k1', /not id:base64key/],
    ['k 1:AAAA', /not id:base64key/],
    ['k1:not base64!', /not valid base64/],
    ['k1:AAAAAAAAAAAAAAAAAAAAAA==', /16 bytes, AES-256 needs 32/],
    [`${k1},${k1}`, /names key "k1" twice/],
  ])('when PAYLOAD_KEYS is %j, then it is refused with a clear reason', (spec, reason) => {
    expect(() => parseKeyRing(spec, 'PAYLOAD_KEYS')).toThrow(reason);
  });

  it('when an entry is refused, then the message does not repeat the key material', () => {
    const material = 'QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB';
    expect(() => parseKeyRing(`k1:${material}`, 'PAYLOAD_KEYS')).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining(material) }),
    );
  });

  it('when a keys file has comments and one entry per line, then the first entry encrypts', () => {
    const ring = parseKeyRing(`# rotated 2026-12\n${k2}\n${k1}\n`, 'file');
    expect(ring.current.id).toBe('k2');
    expect([...ring.byId.keys()]).toEqual(['k2', 'k1']);
  });

  describe('where the keys come from', () => {
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'htd-keys-'));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    const config = (env: Record<string, string>) => loadConfig({ HTD_DATA_DIR: dir, ...env });

    it('when production has no PAYLOAD_KEYS, then the process refuses to start, as without API_KEYS', async () => {
      expect(() => keySourceFor(config({ NODE_ENV: 'production' }))).toThrow(
        /PAYLOAD_KEYS .* must be set in production/,
      );
      expect(() => keySourceFor(config({ NODE_ENV: 'production', PAYLOAD_ENCRYPTION: 'off' }))).toThrow(
        /refused in production/,
      );
      expect(() => codecServerToken(config({ NODE_ENV: 'production' }))).toThrow(/CODEC_SERVER_TOKEN must be set/);
      expect(fs.readdirSync(dir)).toEqual([]);
    });

    it('when nothing is configured outside production, then a key is created once in the data folder, mode 0600', async () => {
      const first = await keySourceFor(config({}))?.keys();
      const file = localKeyFile(dir);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      const second = await keySourceFor(config({}))?.keys();
      expect(second?.current.material).toEqual(first?.current.material);
      expect(ensureLocalKeyFile(dir).created).toBe(false);
      const token = codecServerToken(config({}));
      expect(token).toMatchObject({ created: true, token: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect(fs.statSync(token.file ?? '').mode & 0o777).toBe(0o600);
      expect(codecServerToken(config({})).token).toBe(token.token);
    });

    it('when PAYLOAD_KEYS_FILE names a file, then its keys are used; PAYLOAD_KEYS wins over it', async () => {
      const file = path.join(dir, 'secret');
      fs.writeFileSync(file, `${k2}\n${k1}\n`);
      expect((await keySourceFor(config({ PAYLOAD_KEYS_FILE: file }))?.keys())?.current.id).toBe('k2');
      expect((await keySourceFor(config({ PAYLOAD_KEYS_FILE: file, PAYLOAD_KEYS: k1 }))?.keys())?.current.id).toBe(
        'k1',
      );
    });

    it('when PAYLOAD_ENCRYPTION is off (outside production), then the data converter has no codec but the same failure converter', async () => {
      const off = await dataConverterFor(config({ PAYLOAD_ENCRYPTION: 'off' }));
      const on = await dataConverterFor(config({ PAYLOAD_KEYS: k1 }));
      expect(off.payloadCodecs).toBeUndefined();
      expect(on.payloadCodecs).toHaveLength(1);
      expect(off.failureConverterPath).toBe(on.failureConverterPath);
    });
  });
});

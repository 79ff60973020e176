import { Writable } from 'node:stream';
import { defaultPayloadConverter } from '@temporalio/common';
import pino from 'pino';
import request from 'supertest';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING } from '../../src/codec/codec';
import { generateKeyEntry, parseKeyRing } from '../../src/codec/keys';
import { createCodecApp, payloadFromJson, payloadToJson } from '../../src/codec/server';
import { parseCorsOrigins } from '../../src/codec/server-cli';

const TOKEN = 'codec-test-token-0123456789';
const UI = 'http://127.0.0.1:8233';
const ring = parseKeyRing(generateKeyEntry('k1'), 'test');
const codec = new AesGcmPayloadCodec(ring);
let logged = '';
const log = pino(
  { level: 'info' },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      logged += chunk.toString('utf8');
      done();
    },
  }),
);
const app = createCodecApp({ codec, token: TOKEN, namespace: 'default', corsOrigins: [UI], log });
const bearer = { Authorization: `Bearer ${TOKEN}`, 'X-Namespace': 'default' };

const order = { name: 'Ada Lovelace', line1: '12 Analytical Row', city: 'Marylebone' };
const jsonPayload = () => payloadToJson(defaultPayloadConverter.toPayload(order));
const encrypted = async () => payloadToJson((await codec.encode([defaultPayloadConverter.toPayload(order)]))[0]!);

describe('codec server (remote codec protocol)', () => {
  it('when the CLI posts /encode then /decode with the bearer token, then the payloads round-trip in proto JSON', async () => {
    const encoded = await request(app)
      .post('/encode')
      .set(bearer)
      .send({ payloads: [jsonPayload()] });
    expect(encoded.status).toBe(200);
    const [payload] = encoded.body.payloads;
    expect(Buffer.from(payload.metadata.encoding, 'base64').toString()).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(payload.data, 'base64').toString('latin1')).not.toContain(order.line1);

    const decoded = await request(app).post('/decode').set(bearer).send(encoded.body);
    expect(decoded.status).toBe(200);
    expect(defaultPayloadConverter.fromPayload(payloadFromJson(decoded.body.payloads[0]))).toEqual(order);
  });

  it('when a request has no token, a wrong one, or another scheme, then it is refused with 401 and a Bearer challenge', async () => {
    const body = { payloads: [await encrypted()] };
    for (const headers of [{}, { Authorization: 'Bearer wrong-token' }, { Authorization: `Basic ${TOKEN}` }]) {
      const res = await request(app).post('/decode').set(headers).send(body);
      expect(res.status).toBe(401);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm=/);
      expect(JSON.stringify(res.body)).not.toContain(order.line1);
    }
    expect((await request(app).post('/ui/wrong-token/decode').send(body)).status).toBe(401);
  });

  it('when the Web UI posts to /ui/<token>/decode (its endpoint carries the token), then it decodes', async () => {
    const res = await request(app)
      .post(`/ui/${TOKEN}/decode`)
      .set({ Origin: UI, 'X-Namespace': 'default', 'Content-Type': 'application/json' })
      .send({ payloads: [await encrypted()] });
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(UI);
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    expect(defaultPayloadConverter.fromPayload(payloadFromJson(res.body.payloads[0]))).toEqual(order);
  });

  it("when the Web UI's browser sends a preflight, then only the UI's origin is allowed, with the Authorization and X-Namespace headers", async () => {
    const preflight = await request(app)
      .options('/decode')
      .set({ Origin: UI, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization' });
    expect(preflight.status).toBe(204);
    expect(preflight.headers).toMatchObject({
      'access-control-allow-origin': UI,
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': expect.stringContaining('POST'),
      'access-control-allow-headers': expect.stringMatching(/Authorization.*Content-Type.*X-Namespace/),
      vary: expect.stringContaining('Origin'),
    });
    const other = await request(app)
      .options('/decode')
      .set({ Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST' });
    expect(other.status).toBe(403);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    const post = await request(app)
      .post('/decode')
      .set({ ...bearer, Origin: 'http://evil.example' })
      .send({ payloads: [] });
    expect(post.status).toBe(403);
    expect(post.headers['access-control-allow-origin']).toBeUndefined();
    // A refusal the UI may read: its own origin gets the CORS headers on a 401 too.
    const refused = await request(app).post('/decode').set({ Origin: UI }).send({ payloads: [] });
    expect(refused.status).toBe(401);
    expect(refused.headers['access-control-allow-origin']).toBe(UI);
  });

  it('when X-Namespace names another namespace, then the request is refused with 403', async () => {
    const res = await request(app)
      .post('/decode')
      .set({ ...bearer, 'X-Namespace': 'other' })
      .send({ payloads: [] });
    expect(res.status).toBe(403);
    expect(res.body.detail).toMatch(/namespace default only/);
  });

  it('when a payload was encrypted with a key the server lacks, then 422 names the key ID', async () => {
    const foreign = new AesGcmPayloadCodec(parseKeyRing(generateKeyEntry('k-gone'), 'test'));
    const [payload] = await foreign.encode([defaultPayloadConverter.toPayload(order)]);
    const res = await request(app)
      .post('/decode')
      .set(bearer)
      .send({ payloads: [payloadToJson(payload!)] });
    expect(res.status).toBe(422);
    expect(res.body.detail).toMatch(/key "k-gone"/);
  });

  it('when the body is not a payload list, then 400; an empty message ({}) is zero payloads', async () => {
    for (const body of [{ payloads: 'x' }, { payloads: [{ data: 'not base64!' }] }, { payloads: [{ metadata: 1 }] }]) {
      const res = await request(app).post('/decode').set(bearer).send(body);
      expect(res.status).toBe(400);
    }
    const malformed = await request(app)
      .post('/decode')
      .set({ ...bearer, 'Content-Type': 'application/json' })
      .send('{"payloads":');
    expect(malformed.status).toBe(400);
    expect((await request(app).post('/encode').set(bearer).send({})).body).toEqual({ payloads: [] });
  });

  it('when a method or path is wrong, then 405 or 404; /healthz needs no token', async () => {
    expect((await request(app).get('/decode').set(bearer)).status).toBe(405);
    expect((await request(app).post('/other').set(bearer).send({})).status).toBe(404);
    expect((await request(app).get('/healthz')).body).toEqual({ status: 'ok' });
  });

  it('when requests were served, then the log holds neither tokens nor payloads', () => {
    expect(logged).toContain('codec request');
    expect(logged).not.toContain(TOKEN);
    expect(logged).not.toContain(order.line1);
  });

  it('when CODEC_SERVER_CORS_ORIGINS is not a list of origins, then it is refused', () => {
    expect(parseCorsOrigins('http://127.0.0.1:8233, http://localhost:8233')).toEqual([
      'http://127.0.0.1:8233',
      'http://localhost:8233',
    ]);
    expect(() => parseCorsOrigins('http://127.0.0.1:8233/')).toThrow(/not an origin/);
    expect(() => parseCorsOrigins('*')).toThrow(/not an origin/);
  });
});

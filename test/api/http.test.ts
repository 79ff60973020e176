import type { Express } from 'express';
import request from 'supertest';
import { indexSchema } from '../../src/api/home/schemas';
import type { Db } from '../../src/db/client';
import { createOfflineApp } from './helpers';

/**
 * HTTP itself: a known path with a method it does not take is 405 with `Allow`, OPTIONS lists the
 * methods, HEAD works wherever GET does, and GET / is an index for API clients and browsers.
 * None of it touches PostgreSQL or Temporal, so the app runs with clients that never connect.
 */

let app: Express;
let db: Db;
beforeAll(() => {
  ({ app, db } = createOfflineApp({ temporalUiUrl: 'http://127.0.0.1:8233' }));
});
afterAll(() => db.$disconnect());

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete' | 'options' | 'head' | 'trace';
const call = (method: Method, path: string) => request(app)[method](path);

describe('methods', () => {
  it.each([
    ['trace', '/readyz', 'GET, HEAD, OPTIONS'],
    ['delete', '/orders', 'GET, HEAD, POST, OPTIONS'],
    ['put', '/orders/o-1', 'GET, HEAD, OPTIONS'],
    ['get', '/orders/o-1/cancel', 'POST, OPTIONS'],
    ['patch', '/admin/products/TOM-HEIRLOOM/adjust', 'POST, OPTIONS'],
    ['post', '/', 'GET, HEAD, OPTIONS'],
    ['delete', '/ORDERS/', 'GET, HEAD, POST, OPTIONS'],
  ] as const)('when %s %s is asked, then 405 method-not-allowed with Allow: %s', async (method, path, allow) => {
    const res = await call(method, path).set('Authorization', 'Bearer not-a-key');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe(allow);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ type: '/problems/method-not-allowed', status: 405, instance: path });
  });

  it('when a wrong method carries a body that is not JSON, then it is still 405: the method is decided first', async () => {
    const res = await call('delete', '/orders').set('Content-Type', 'application/json').send('{not json');
    expect(res.status).toBe(405);
  });

  it('when OPTIONS is asked of a known path, then 204 with Allow and no body; of an unknown one, then 404', async () => {
    const res = await call('options', '/orders/o-1/events');
    expect(res.status).toBe(204);
    expect(res.headers.allow).toBe('GET, HEAD, OPTIONS');
    expect(res.text).toBe('');
    const unknown = await call('options', '/nowhere');
    expect(unknown.status).toBe(404);
    expect(unknown.body.type).toBe('/problems/route-not-found');
  });

  it('when HEAD is asked where GET works, then the GET answer without a body', async () => {
    const res = await call('head', '/healthz');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.text ?? '').toBe('');
  });

  it('when an unknown path is asked with any method, then 404 route-not-found, never 405', async () => {
    for (const method of ['get', 'delete', 'trace'] as const) {
      const res = await call(method, '/orders/o-1/nothing');
      expect(res.status).toBe(404);
      expect(res.body.type).toBe('/problems/route-not-found');
    }
  });
});

describe('GET /', () => {
  it('when an API client asks (no Accept, */* or JSON), then the JSON index links the docs, the document, the probes, the metrics and the Web UI', async () => {
    for (const accept of [undefined, '*/*', 'application/json']) {
      const req = call('get', '/');
      const res = await (accept ? req.set('Accept', accept) : req);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers.vary).toMatch(/Accept/);
      const index = indexSchema.parse(res.body);
      expect(Object.fromEntries(Object.entries(index.links).map(([k, l]) => [k, l?.href]))).toEqual({
        self: '/',
        docs: '/docs',
        openapi: '/openapi.json',
        healthz: '/healthz',
        readyz: '/readyz',
        metrics: '/metrics',
        temporalUi: 'http://127.0.0.1:8233',
      });
    }
  });

  it('when a browser asks, then an HTML page with the same links, no scripts', async () => {
    const res = await call('get', '/').set('Accept', 'text/html,application/xhtml+xml,*/*;q=0.8');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.text).not.toMatch(/<script/i);
    for (const href of ['/docs', '/openapi.json', '/healthz', '/readyz', '/metrics', 'http://127.0.0.1:8233']) {
      expect(res.text).toContain(`href="${href}"`);
    }
  });

  it('when the Web UI is not known, then the index has no link to it', async () => {
    const { app: bare, db: other } = createOfflineApp();
    const res = await request(bare).get('/');
    expect(res.body.links).not.toHaveProperty('temporalUi');
    expect((await request(bare).get('/').set('Accept', 'text/html')).text).not.toContain('8233');
    await other.$disconnect();
  });

  it('when neither JSON nor HTML is acceptable, then 406 not-acceptable; an unknown query parameter, then 400', async () => {
    const res = await call('get', '/').set('Accept', 'image/png');
    expect(res.status).toBe(406);
    expect(res.body.type).toBe('/problems/not-acceptable');
    expect((await call('get', '/?page=2')).status).toBe(400);
  });
});

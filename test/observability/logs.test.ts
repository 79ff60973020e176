import { Writable } from 'node:stream';
import express from 'express';
import pino from 'pino';
import request from 'supertest';
import { requestLog } from '../../src/api/request-log';

describe('request logs', () => {
  it('when a request concerns an order, then its JSON line names the order, the workflow, the route and the status', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
        done();
      },
    });
    const app = express();
    app.use(requestLog(pino({ base: { service: 'api' } }, sink)));
    app.get('/orders/:id', (_req, res) => void res.status(202).json({}));
    await request(app).get('/orders/o-abc123').expect(202);
    expect(lines).toEqual([
      expect.objectContaining({
        service: 'api',
        msg: 'request',
        method: 'GET',
        route: '/orders/:id',
        status: 202,
        orderId: 'o-abc123',
        workflowId: 'order-o-abc123',
      }),
    ]);
  });
});

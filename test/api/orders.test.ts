import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { orderIdFor } from '../../src/api/orders/router';
import {
  cancelAcceptedSchema,
  orderAcceptedSchema,
  orderEventsSchema,
  orderPageSchema,
  orderViewSchema,
} from '../../src/api/orders/schemas';
import { DEMO_KEYS, parseApiKeys } from '../../src/api/auth';
import { createLogger } from '../../src/lib/logger';
import {
  address,
  completeHarvest,
  createApiHarness,
  errorPaths,
  eventually,
  KEYS,
  orderBody,
  submitAndAwaitHarvest,
  waitForOrder,
  workflowExists,
  type ApiHarness,
} from './helpers';

let api: ApiHarness;
beforeAll(async () => {
  api = await createApiHarness();
}, 120_000);
afterAll(() => api?.teardown());

const app = () => api.app;

describe('POST /orders', () => {
  it('when an order is valid, then it is accepted with 202 and a Location, and runs to COMPLETED with a tracking number', async () => {
    const key = `k-${randomUUID()}`;
    const res = await request(app()).post('/orders').set(KEYS.customer).set('Idempotency-Key', key).send(orderBody());
    expect(res.status).toBe(202);
    expect(orderAcceptedSchema.parse(res.body)).toBeTruthy();
    const { orderId } = res.body as { orderId: string };
    expect(orderId).toBe(orderIdFor('cust-demo', key));
    expect(res.headers.location).toBe(`/orders/${orderId}`);
    expect(res.headers['idempotent-replayed']).toBe('false');

    // The crew reports through the API, as a real crew would.
    const task = await eventually(async () => {
      const tasks = (await request(app()).get('/harvest-tasks').set(KEYS.crew)).body.data as {
        id: string;
        orderId: string;
        lines: { sku: string; quantity: number }[];
      }[];
      return tasks.find((t) => t.orderId === orderId);
    });
    await request(app())
      .post(`/harvest-tasks/${task.id}/complete`)
      .set(KEYS.crew)
      .send({ yields: task.lines })
      .expect(202);
    const order = await waitForOrder(app(), orderId, (o) => o.status === 'COMPLETED');
    expect(order).toMatchObject({ orderId, status: 'COMPLETED', step: 'done', chargedCents: 500 });
    expect(order.trackingNumber).toMatch(/^PRI/);
  });

  it('when the same Idempotency-Key and body are sent again (even concurrently), then the same order is returned', async () => {
    const key = `k-${randomUUID()}`;
    const responses = await Promise.all(
      [1, 2, 3].map(() =>
        request(app()).post('/orders').set(KEYS.customer).set('Idempotency-Key', key).send(orderBody()),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual([202, 202, 202]);
    expect(new Set(responses.map((r) => r.body.orderId)).size).toBe(1);
  });

  it('when the same Idempotency-Key comes with a different body, then 422 idempotency-key-reused', async () => {
    const key = `k-${randomUUID()}`;
    await request(app()).post('/orders').set(KEYS.customer).set('Idempotency-Key', key).send(orderBody()).expect(202);
    const res = await request(app())
      .post('/orders')
      .set(KEYS.customer)
      .set('Idempotency-Key', key)
      .send(orderBody([{ sku: 'LET-BUTTER', quantity: 3 }]));
    expect(res.status).toBe(422);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body.type).toBe('/problems/idempotency-key-reused');
  });

  it.each([
    ['no lines', orderBody([]), 'lines'],
    ['a negative quantity', orderBody([{ sku: 'LET-BUTTER', quantity: -1 }]), 'lines.0.quantity'],
    ['a huge quantity', orderBody([{ sku: 'LET-BUTTER', quantity: 1e308 }]), 'lines.0.quantity'],
    ['a fractional quantity', orderBody([{ sku: 'LET-BUTTER', quantity: 1.5 }]), 'lines.0.quantity'],
    [
      'a client-supplied price',
      orderBody([{ sku: 'LET-BUTTER', quantity: 1, priceCents: 1 } as never]),
      'lines.0.priceCents',
    ],
    ['a client-supplied status', orderBody(undefined, { status: 'COMPLETED' }), 'status'],
    ['a client-supplied owner', orderBody(undefined, { customerId: 'cust-other' }), 'customerId'],
    ['too many lines', orderBody(Array.from({ length: 51 }, (_, i) => ({ sku: `S${i}`, quantity: 1 }))), 'lines'],
    ['a bad country', { ...orderBody(), shippingAddress: { ...address(), country: 'usa' } }, 'shippingAddress.country'],
    [
      'a NUL byte in the name',
      { ...orderBody(), shippingAddress: { ...address(), name: 'a\u0000b' } },
      'shippingAddress.name',
    ],
    [
      'a lone surrogate in the city',
      { ...orderBody(), shippingAddress: { ...address(), city: 'x\ud800' } },
      'shippingAddress.city',
    ],
    ['an array instead of an object', [orderBody()], '(root)'],
  ])('when the body has %s, then 400 names the field and no workflow starts', async (_name, bad, field) => {
    const key = `k-${randomUUID()}`;
    const res = await request(app()).post('/orders').set(KEYS.customer).set('Idempotency-Key', key).send(bad);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body.type).toBe('/problems/validation');
    expect(errorPaths(res.body)).toContain(field);
    expect(await workflowExists(api.h, orderIdFor('cust-demo', key))).toBe(false);
  });

  it('when the body names the same SKU twice, then the lines are added up into one', async () => {
    const lines = [
      { sku: 'LET-BUTTER', quantity: 1 },
      { sku: 'TOM-HEIRLOOM', quantity: 1 },
      { sku: 'LET-BUTTER', quantity: 2 },
    ];
    const res = await request(app()).post('/orders').set(KEYS.customer).send(orderBody(lines));
    expect(res.status).toBe(202);
    const order = await waitForOrder(app(), res.body.orderId, (o) => Array.isArray(o.lines));
    expect(order.lines).toEqual([
      expect.objectContaining({ sku: 'LET-BUTTER', quantity: 3 }),
      expect.objectContaining({ sku: 'TOM-HEIRLOOM', quantity: 1 }),
    ]);
  });

  it('when several parts are wrong at once, then every bad field is named with where it was', async () => {
    const res = await request(app())
      .post('/orders')
      .set(KEYS.customer)
      .set('Idempotency-Key', 'short')
      .send({ lines: [{ sku: 'no spaces', quantity: 0 }], shippingAddress: { ...address(), country: 1 }, extra: true });
    expect(res.status).toBe(400);
    const errors = res.body.errors as { in: string; path: string }[];
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ in: 'header', path: 'Idempotency-Key' }),
        expect.objectContaining({ in: 'body', path: 'lines.0.sku' }),
        expect.objectContaining({ in: 'body', path: 'lines.0.quantity' }),
        expect.objectContaining({ in: 'body', path: 'shippingAddress.country' }),
        expect.objectContaining({ in: 'body', path: 'extra' }),
      ]),
    );
  });

  it('when the Idempotency-Key is malformed but the body is fine, then 400 and no workflow starts', async () => {
    const key = 'has spaces in it';
    const res = await request(app()).post('/orders').set(KEYS.customer).set('Idempotency-Key', key).send(orderBody());
    expect(res.status).toBe(400);
    expect(errorPaths(res.body)).toEqual(['Idempotency-Key']);
    expect(await workflowExists(api.h, orderIdFor('cust-demo', key))).toBe(false);
  });

  it('when the body is not JSON, then 400 malformed-body; in another content type, then 415', async () => {
    const broken = await request(app())
      .post('/orders')
      .set(KEYS.customer)
      .set('Content-Type', 'application/json')
      .send('{"lines":');
    expect(broken.status).toBe(400);
    expect(broken.body.type).toBe('/problems/malformed-body');
    const text = await request(app())
      .post('/orders')
      .set(KEYS.customer)
      .set('Content-Type', 'text/plain')
      .send(JSON.stringify(orderBody()));
    expect(text.status).toBe(415);
    expect(text.body.type).toBe('/problems/unsupported-media-type');
  });

  it('when the body is over 64 kB, then 413', async () => {
    const res = await request(app())
      .post('/orders')
      .set(KEYS.customer)
      .send({ ...orderBody(), padding: 'x'.repeat(70_000) });
    expect(res.status).toBe(413);
    expect(res.body.type).toBe('/problems/payload-too-large');
  });

  it('when a SKU is unknown, then 422 and no workflow starts', async () => {
    const key = `k-${randomUUID()}`;
    const res = await request(app())
      .post('/orders')
      .set(KEYS.customer)
      .set('Idempotency-Key', key)
      .send(orderBody([{ sku: 'NOPE', quantity: 1 }]));
    expect(res.status).toBe(422);
    expect(res.body.type).toBe('/problems/unknown-product');
    expect(await workflowExists(api.h, orderIdFor('cust-demo', key))).toBe(false);
  });

  it('when the key belongs to an unregistered customer, then 422 unknown-customer and no workflow starts', async () => {
    const key = `k-${randomUUID()}`;
    const res = await request(app()).post('/orders').set(KEYS.ghost).set('Idempotency-Key', key).send(orderBody());
    expect(res.status).toBe(422);
    expect(res.body.type).toBe('/problems/unknown-customer');
    expect(await workflowExists(api.h, orderIdFor('cust-ghost', key))).toBe(false);
  });

  it('when there is no API key, then 401; an unknown key, then 401; a crew or admin key, then 403', async () => {
    expect((await request(app()).post('/orders').send(orderBody())).status).toBe(401);
    expect((await request(app()).post('/orders').set(KEYS.unknown).send(orderBody())).status).toBe(401);
    expect((await request(app()).post('/orders').set(KEYS.crew).send(orderBody())).status).toBe(403);
    const admin = await request(app()).post('/orders').set(KEYS.admin).send(orderBody());
    expect(admin.status).toBe(403);
    expect(admin.body.type).toBe('/problems/forbidden');
  });
});

describe('GET /orders/:id', () => {
  let orderId: string;
  beforeAll(async () => {
    orderId = await submitAndAwaitHarvest(app());
  });

  it('when the owner or an admin asks, then the order comes back as documented, with the live workflow view', async () => {
    for (const key of [KEYS.customer, KEYS.admin]) {
      const res = await request(app()).get(`/orders/${orderId}`).set(key);
      expect(res.status).toBe(200);
      const order = orderViewSchema.parse(res.body);
      expect(order).toMatchObject({
        orderId,
        customerId: 'cust-demo',
        status: 'AWAITING_HARVEST',
        harvestTask: { id: `hv-${orderId}`, status: 'OPEN' },
      });
      expect(order.workflow.timeline?.length).toBeGreaterThan(0);
    }
  });

  it("when another customer asks for an order, then 404 (no one sees another's orders)", async () => {
    const other = await request(app()).get(`/orders/${orderId}`).set(KEYS.other);
    expect(other.status).toBe(404);
    expect(other.body.type).toBe('/problems/not-found');
  });

  it('when a crew key asks, then 403; without a key, then 401', async () => {
    expect((await request(app()).get(`/orders/${orderId}`).set(KEYS.crew)).status).toBe(403);
    expect((await request(app()).get(`/orders/${orderId}`)).status).toBe(401);
  });

  it('when the order does not exist, then 404; when the ID has odd characters or a broken escape, then 400', async () => {
    expect((await request(app()).get('/orders/o-doesnotexist').set(KEYS.customer)).status).toBe(404);
    const odd = await request(app()).get('/orders/..%2F..%2Fetc').set(KEYS.customer);
    expect(odd.status).toBe(400);
    expect(errorPaths(odd.body)).toEqual(['id']);
    const broken = await request(app()).get('/orders/%E0%A4%A').set(KEYS.customer);
    expect(broken.status).toBe(400);
    expect(broken.headers['content-type']).toMatch(/application\/problem\+json/);
  });
});

describe('GET /orders (list)', () => {
  const demoIds: string[] = [];
  let otherId: string;
  beforeAll(async () => {
    for (let i = 0; i < 5; i++) demoIds.push(await submitAndAwaitHarvest(app()));
    otherId = await submitAndAwaitHarvest(app(), orderBody(), KEYS.other);
  });

  async function allPages(key: Record<string, string>, query: string) {
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await request(app())
        .get(`/orders?${query}${cursor ? `&cursor=${cursor}` : ''}`)
        .set(key);
      expect(res.status).toBe(200);
      const page = orderPageSchema.parse(res.body);
      ids.push(...page.data.map((o) => o.orderId));
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 50);
    return { ids, pages };
  }

  it('when a customer pages through with a small limit, then every own order comes once, newest first, and no one else’s', async () => {
    const expected = (
      await api.h.db.query<{ id: string }>(
        `select id from orders where customer_id = 'cust-demo' order by created_at desc, id desc`,
      )
    ).map((r) => r.id);
    expect(expected).toEqual(expect.arrayContaining(demoIds));
    const { ids, pages } = await allPages(KEYS.customer, 'limit=2');
    expect(ids).toEqual(expected);
    expect(pages).toBe(Math.ceil(expected.length / 2));
    expect(ids).not.toContain(otherId);
  });

  it('when no limit is given, then at most 20 come back', async () => {
    const res = await request(app()).get('/orders').set(KEYS.admin);
    expect(res.status).toBe(200);
    expect(res.body.data.length).toBeLessThanOrEqual(20);
  });

  it('when an admin lists, then every customer’s orders come back, and customerId and status filter them', async () => {
    const all = await allPages(KEYS.admin, 'limit=100');
    expect(all.ids).toEqual(expect.arrayContaining([...demoIds, otherId]));
    const other = await request(app()).get('/orders?customerId=cust-other').set(KEYS.admin);
    expect(orderPageSchema.parse(other.body).data.map((o) => o.orderId)).toEqual([otherId]);
    const awaiting = await request(app()).get('/orders?status=AWAITING_HARVEST&limit=100').set(KEYS.admin);
    expect(awaiting.body.data.length).toBeGreaterThanOrEqual(6);
    expect(orderPageSchema.parse(awaiting.body).data.every((o) => o.status === 'AWAITING_HARVEST')).toBe(true);
    const failed = await request(app()).get('/orders?status=FAILED').set(KEYS.admin);
    expect(failed.body).toEqual({ data: [], nextCursor: null });
  });

  it('when createdFrom/createdTo are given, then only orders created in that range come back', async () => {
    const inRange = await request(app())
      .get('/orders?createdFrom=2000-01-01&createdTo=9999-12-31T00:00:00Z&limit=100')
      .set(KEYS.customer);
    expect(orderPageSchema.parse(inRange.body).data.map((o) => o.orderId)).toEqual(expect.arrayContaining(demoIds));
    const future = await request(app()).get('/orders?createdFrom=9000-01-01').set(KEYS.customer);
    expect(future.body.data).toEqual([]);
    const past = await request(app()).get('/orders?createdTo=2000-01-01T00:00:00%2B02:00').set(KEYS.customer);
    expect(past.body.data).toEqual([]);
    // A range that ends before it starts is empty, not an error: the document cannot compare two parameters.
    const reversed = await request(app()).get('/orders?createdFrom=2026-01-02&createdTo=2026-01-01').set(KEYS.customer);
    expect(reversed.status).toBe(200);
    expect(reversed.body.data).toEqual([]);
  });

  it('when a customer filters by another customerId, then 403; by their own, then 200', async () => {
    const res = await request(app()).get('/orders?customerId=cust-other').set(KEYS.customer);
    expect(res.status).toBe(403);
    expect(res.body.type).toBe('/problems/forbidden');
    expect((await request(app()).get('/orders?customerId=cust-demo').set(KEYS.customer)).status).toBe(200);
  });

  it('when a crew key lists, then 403; without a key, then 401', async () => {
    expect((await request(app()).get('/orders').set(KEYS.crew)).status).toBe(403);
    expect((await request(app()).get('/orders')).status).toBe(401);
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=abc', 'limit'],
    ['limit=-1', 'limit'],
    ['limit=1&limit=2', 'limit'],
    ['limit=99999999999999999999', 'limit'],
    ['cursor=not-a-cursor', 'cursor'],
    [`cursor=${Buffer.from('["yesterday","x"]').toString('base64url')}`, 'cursor'],
    ['status=SHIPPED', 'status'],
    ['status[]=RUNNING', 'status[]'],
    ['createdFrom=yesterday', 'createdFrom'],
    ['createdFrom=0000-01-01', 'createdFrom'],
    ['createdFrom=2026-02-30', 'createdFrom'],
    ['createdFrom=1969-12-31', 'createdFrom'],
    ['createdFrom=2026-01-01T00:00:00', 'createdFrom'],
    ['createdFrom=2100-02-29', 'createdFrom'],
    ['limit=020', 'limit'],
    ['cursor=1795334400000.', 'cursor'],
    ['customerId=%00', 'customerId'],
    ['sort=desc', 'sort'],
  ])('when the query is %s, then 400 names %s', async (query, field) => {
    const res = await request(app()).get(`/orders?${query}`).set(KEYS.admin);
    expect(res.status).toBe(400);
    expect(res.body.type).toBe('/problems/validation');
    expect(errorPaths(res.body)).toContain(field);
  });

  it('when several query parameters are wrong, then each is named', async () => {
    const res = await request(app()).get('/orders?limit=0&status=NOPE&cursor=%21%21&foo=1').set(KEYS.admin);
    expect(res.status).toBe(400);
    expect(errorPaths(res.body).sort()).toEqual(['cursor', 'foo', 'limit', 'status']);
  });
});

describe('GET /orders/:id/events', () => {
  let orderId: string;
  beforeAll(async () => {
    orderId = await submitAndAwaitHarvest(app());
  });

  it('when the owner or an admin asks, then the audit trail comes back in version order', async () => {
    for (const key of [KEYS.customer, KEYS.admin]) {
      const res = await request(app()).get(`/orders/${orderId}/events`).set(key);
      expect(res.status).toBe(200);
      const { data } = orderEventsSchema.parse(res.body);
      expect(data.map((e) => e.version)).toEqual(data.map((_, i) => i + 1));
      expect(data.map((e) => e.eventType).slice(0, 3)).toEqual([
        'OrderReceived',
        'InventoryReserved',
        'HarvestScheduled',
      ]);
      expect(data[0]).toMatchObject({ eventId: `${orderId}:received`, data: { customerId: 'cust-demo' } });
    }
  });

  it('when another customer asks, then 404; a crew key, then 403; no key, then 401; an unknown order, then 404', async () => {
    expect((await request(app()).get(`/orders/${orderId}/events`).set(KEYS.other)).status).toBe(404);
    expect((await request(app()).get(`/orders/${orderId}/events`).set(KEYS.crew)).status).toBe(403);
    expect((await request(app()).get(`/orders/${orderId}/events`)).status).toBe(401);
    expect((await request(app()).get('/orders/o-missing/events').set(KEYS.admin)).status).toBe(404);
    expect((await request(app()).get(`/orders/${orderId}/events?all=1`).set(KEYS.customer)).status).toBe(400);
  });
});

describe('GET /orders/:id/receipt and POST /orders/:id/cancel', () => {
  const sneaky = { ...address(), name: '<script>alert("x")</script> & Co', line1: "1 O'Brien <b>Lane</b>" };

  it('when an order is not charged yet, then the receipt is 409 not-charged-yet; once delivered, then an escaped HTML receipt with harvested quantities, prices, totals and tracking', async () => {
    const orderId = await submitAndAwaitHarvest(app(), {
      lines: [
        { sku: 'TOM-HEIRLOOM', quantity: 2 },
        { sku: 'LET-BUTTER', quantity: 1 },
      ],
      acceptPartial: true,
      shippingAddress: sneaky,
    });
    const early = await request(app()).get(`/orders/${orderId}/receipt`).set(KEYS.customer);
    expect(early.status).toBe(409);
    expect(early.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(early.body).toMatchObject({
      type: '/problems/not-charged-yet',
      status: 409,
      orderStatus: 'AWAITING_HARVEST',
    });

    // Half the tomatoes came up: the customer pays for 1 kg of tomatoes and 1 lettuce.
    await completeHarvest(app(), orderId, [
      { sku: 'TOM-HEIRLOOM', quantity: 1 },
      { sku: 'LET-BUTTER', quantity: 1 },
    ]);
    const done = await waitForOrder(app(), orderId, (o) => o.status === 'COMPLETED');
    expect(done.chargedCents).toBe(900);

    const res = await request(app()).get(`/orders/${orderId}/receipt`).set(KEYS.customer);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html; charset=utf-8/);
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    const html = res.text;
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<b>');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co');
    expect(html).toContain('1 O&#39;Brien &lt;b&gt;Lane&lt;/b&gt;');
    expect(html).toMatch(
      /Heirloom tomatoes[\s\S]*<td class="n">2<\/td>\s*<td class="n">1 kg<\/td><td class="n">\$6\.50<\/td>\s*<td class="n">\$6\.50<\/td>/,
    );
    expect(html).toContain('id="charged">$9.00<');
    expect(html).toContain('id="total">$9.00<');
    expect(html).toContain(done.trackingNumber as string);

    expect((await request(app()).get(`/orders/${orderId}/receipt`).set(KEYS.admin)).status).toBe(200);
    expect((await request(app()).get(`/orders/${orderId}/receipt`).set(KEYS.other)).status).toBe(404);
    expect((await request(app()).get(`/orders/${orderId}/receipt`).set(KEYS.crew)).status).toBe(403);

    // Delivered: too late to cancel.
    const cancel = await request(app()).post(`/orders/${orderId}/cancel`).set(KEYS.customer).send({ reason: 'late' });
    expect(cancel.status).toBe(409);
    expect(cancel.body).toMatchObject({ type: '/problems/order-finished', status: 409, orderStatus: 'COMPLETED' });
  });

  it('when a charged order is cancelled by an admin while parked, then 202, it is refunded, and the receipt shows the refund', async () => {
    await api.h.admin.setFaults({ primary: { refuseNext: 1 }, backup: { refuseNext: 1 } });
    try {
      const orderId = await submitAndAwaitHarvest(app(), orderBody([{ sku: 'KAL-LACINATO', quantity: 2 }]));
      await completeHarvest(app(), orderId, [{ sku: 'KAL-LACINATO', quantity: 2 }]);
      await waitForOrder(app(), orderId, (o) => o.status === 'NEEDS_ATTENTION');
      const res = await request(app())
        .post(`/orders/${orderId}/cancel`)
        .set(KEYS.admin)
        .send({ reason: 'both carriers down' });
      expect(res.status).toBe(202);
      expect(cancelAcceptedSchema.parse(res.body)).toMatchObject({ orderId });
      const cancelled = await waitForOrder(app(), orderId, (o) => o.status === 'CANCELLED');
      expect(cancelled).toMatchObject({ chargedCents: 640, refundedCents: 640 });
      const receipt = await request(app()).get(`/orders/${orderId}/receipt`).set(KEYS.customer);
      expect(receipt.status).toBe(200);
      expect(receipt.text).toMatch(/Refund ref-[^<]+<\/td><td class="n">-\$6\.40/);
      expect(receipt.text).toContain('id="total">$0.00<');
      const events = await request(app()).get(`/orders/${orderId}/events`).set(KEYS.customer);
      expect(orderEventsSchema.parse(events.body).data.map((e) => e.eventType)).toEqual(
        expect.arrayContaining(['PaymentCaptured', 'PaymentRefunded']),
      );
    } finally {
      await api.h.admin.clearFaults();
    }
  });

  it('when the owner cancels while the crew is picking, then 202, the order ends CANCELLED and its stock is back', async () => {
    const before = (await request(app()).get('/products/STR-ALBION/availability')).body.available as number;
    const orderId = await submitAndAwaitHarvest(app(), orderBody([{ sku: 'STR-ALBION', quantity: 3 }]));
    expect((await request(app()).get('/products/STR-ALBION/availability')).body.available).toBe(before - 3);
    const res = await request(app())
      .post(`/orders/${orderId}/cancel`)
      .set(KEYS.customer)
      .send({ reason: 'changed my mind' });
    expect(res.status).toBe(202);
    expect(res.headers.location).toBe(`/orders/${orderId}`);
    const order = await waitForOrder(app(), orderId, (o) => o.status === 'CANCELLED');
    expect(order.reason).toContain('changed my mind');
    expect((await request(app()).get('/products/STR-ALBION/availability')).body.available).toBe(before);
    const receipt = await request(app()).get(`/orders/${orderId}/receipt`).set(KEYS.customer);
    expect(receipt.status).toBe(409);
    expect(receipt.body.type).toBe('/problems/not-charged-yet');
    const again = await request(app()).post(`/orders/${orderId}/cancel`).set(KEYS.customer).send({ reason: 'again' });
    expect(again.status).toBe(409);
    expect(again.body.type).toBe('/problems/order-finished');
  });

  it('when someone else cancels, then 404 (others) or 403 (crew) or 401 (no key), and a bad body is 400; the order keeps going', async () => {
    const orderId = await submitAndAwaitHarvest(app());
    const reason = { reason: 'not mine' };
    expect((await request(app()).post(`/orders/${orderId}/cancel`).set(KEYS.other).send(reason)).status).toBe(404);
    expect((await request(app()).post(`/orders/${orderId}/cancel`).set(KEYS.crew).send(reason)).status).toBe(403);
    expect((await request(app()).post(`/orders/${orderId}/cancel`).send(reason)).status).toBe(401);
    expect((await request(app()).post('/orders/o-missing/cancel').set(KEYS.admin).send(reason)).status).toBe(404);
    for (const bad of [{}, { reason: '' }, { reason: '   ' }, { reason: 'x'.repeat(501) }, { reason: 'ok', by: 'x' }]) {
      const res = await request(app()).post(`/orders/${orderId}/cancel`).set(KEYS.customer).send(bad);
      expect(res.status).toBe(400);
      expect(res.body.type).toBe('/problems/validation');
    }
    const empty = await request(app()).post(`/orders/${orderId}/cancel`).set(KEYS.customer);
    expect(empty.status).toBe(400);
    const order = await request(app()).get(`/orders/${orderId}`).set(KEYS.customer);
    expect(order.body.status).toBe('AWAITING_HARVEST');
    expect(orderViewSchema.parse(order.body).workflow.timeline?.some((t) => t.step === 'cancel')).toBe(false);
  });
});

describe('GET /customers/:id/orders', () => {
  let mine: string;
  let theirs: string;
  beforeAll(async () => {
    mine = await submitAndAwaitHarvest(app());
    theirs = await submitAndAwaitHarvest(app(), orderBody(), KEYS.other);
  });

  it('when a customer asks for their own ID, then only their orders come back, paged like GET /orders', async () => {
    const res = await request(app()).get('/customers/cust-demo/orders?limit=100').set(KEYS.customer);
    expect(res.status).toBe(200);
    const page = orderPageSchema.parse(res.body);
    expect(page.data.map((o) => o.orderId)).toContain(mine);
    expect(page.data.every((o) => o.customerId === 'cust-demo')).toBe(true);
    const first = await request(app()).get('/customers/cust-demo/orders?limit=1').set(KEYS.customer);
    expect(first.body.data).toHaveLength(1);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await request(app())
      .get(`/customers/cust-demo/orders?limit=1&cursor=${first.body.nextCursor}`)
      .set(KEYS.customer);
    expect(second.body.data[0].orderId).not.toBe(first.body.data[0].orderId);
  });

  it('when a customer asks for another customer, then 404; an admin may ask for anyone', async () => {
    const res = await request(app()).get('/customers/cust-other/orders').set(KEYS.customer);
    expect(res.status).toBe(404);
    expect(res.body.type).toBe('/problems/not-found');
    const admin = await request(app()).get('/customers/cust-other/orders').set(KEYS.admin);
    expect(admin.status).toBe(200);
    const page = orderPageSchema.parse(admin.body);
    expect(page.data.map((o) => o.orderId)).toContain(theirs);
    expect(page.data.every((o) => o.customerId === 'cust-other')).toBe(true);
  });

  it('when the customer does not exist, then 404; a crew key, then 403; no key, then 401; odd IDs or a customerId filter, then 400', async () => {
    expect((await request(app()).get('/customers/cust-nobody/orders').set(KEYS.admin)).status).toBe(404);
    expect((await request(app()).get('/customers/cust-demo/orders').set(KEYS.crew)).status).toBe(403);
    expect((await request(app()).get('/customers/cust-demo/orders')).status).toBe(401);
    const odd = await request(app()).get('/customers/%3Cscript%3E/orders').set(KEYS.admin);
    expect(odd.status).toBe(400);
    const filter = await request(app()).get('/customers/cust-demo/orders?customerId=cust-other').set(KEYS.admin);
    expect(filter.status).toBe(400);
    expect(errorPaths(filter.body)).toEqual(['customerId']);
  });
});

describe('rate limiting', () => {
  it('when a key exceeds its per-minute budget, then 429 with Retry-After, and other keys are unaffected', async () => {
    const { rateLimit } = await import('../../src/api/rate-limit');
    const express = (await import('express')).default;
    const { authenticate } = await import('../../src/api/auth');
    const { errorHandler } = await import('../../src/api/problem');
    const limited = express();
    limited.use(authenticate(parseApiKeys(DEMO_KEYS)));
    limited.use(rateLimit(3));
    limited.get('/x', (_req, res) => void res.json({ ok: true }));
    limited.use(errorHandler(createLogger('t', 'silent')));
    for (let i = 0; i < 3; i++) await request(limited).get('/x').set(KEYS.customer).expect(200);
    const blocked = await request(limited).get('/x').set(KEYS.customer);
    expect(blocked.status).toBe(429);
    expect(blocked.body.type).toBe('/problems/rate-limited');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    await request(limited).get('/x').set(KEYS.crew).expect(200);
  });
});

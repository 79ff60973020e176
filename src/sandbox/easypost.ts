import express, { type Request, type Response } from 'express';
import type { PoolClient } from 'pg';
import { z } from 'zod';
import { SANDBOX_CARRIER_ACCOUNTS } from './accounts';
import type { FaultInjector } from './faults';
import { admit, digits, newId, pathParam, reply, send, type UnavailableBody } from './http';
import type { PickupRow, SandboxStore, ShipmentRate, ShipmentRow, StoredResponse } from './store';

/**
 * The subset of EasyPost's API (v2, JSON) the shipping adapter uses, as the official `@easypost/api` package sends
 * it: create a shipment (rated, and with `service` + `carrier_accounts` bought in the same call: EasyPost's one-call
 * buy), buy a rate, refund (void) a label, retrieve a shipment by ID or by its `reference`, and the carrier's
 * collection as a Pickup (create, buy, retrieve by ID or reference).
 *
 * Two carrier accounts stand for the workflow's two carriers. The simulated carriers collect a parcel as soon as its
 * pickup is bought: the shipment's tracker moves from `pre_transit` to `in_transit`, and from then on the label can no
 * longer be refunded. EasyPost has no idempotency keys; a client finds what an earlier, unanswered request did by the
 * reference it gave.
 */

type CarrierName = keyof typeof SANDBOX_CARRIER_ACCOUNTS;

/** The primary carrier does not deliver to this postal code: it offers no rate, a business refusal. */
const UNSERVICEABLE_POSTAL_CODE = '00000';

/** An EasyPost error body: `{"error": {"code": ..., "message": ..., "errors": [...]}}`. */
function easypostError(status: number, code: string, message: string): StoredResponse {
  return { status, body: { error: { code, message, errors: [] } } };
}

const unavailable: UnavailableBody = (_service, reason) => ({
  error: { code: 'SERVICE.UNAVAILABLE', message: `The sandbox is unavailable (${reason}).`, errors: [] },
});

/** Thrown for requests answered with an error before anything happens. */
class EasyPostRequestError extends Error {
  constructor(readonly response: StoredResponse) {
    super('invalid EasyPost request');
  }
}

const notFound = () =>
  new EasyPostRequestError(easypostError(404, 'NOT_FOUND', 'The requested resource could not be found.'));

const text = z.string().trim().min(1).max(500);
const addressSchema = z.looseObject({
  name: text.optional(),
  company: text.optional(),
  street1: text,
  city: text,
  zip: text,
  country: text,
});
const accountRef = z.union([z.string(), z.object({ id: z.string() }).transform((a) => a.id)]);

const createShipmentBody = z.object({
  shipment: z.object({
    reference: z.string().max(500).optional(),
    to_address: addressSchema,
    from_address: addressSchema,
    parcel: z.looseObject({ weight: z.coerce.number().positive().max(100_000) }),
    carrier_accounts: z.array(accountRef).min(1).max(1),
    service: z.string().optional(),
    options: z.looseObject({ label_date: z.iso.datetime({ offset: true }).optional() }).optional(),
  }),
});

const buyShipmentBody = z.object({ rate: z.object({ id: z.string() }) });

const createPickupBody = z.object({
  pickup: z.object({
    reference: z.string().max(500).optional(),
    shipment: z.object({ id: z.string() }),
    address: z.unknown().optional(),
    min_datetime: z.iso.datetime({ offset: true }),
    max_datetime: z.iso.datetime({ offset: true }),
    is_account_address: z.boolean().optional(),
    instructions: z.string().max(500).optional(),
    carrier_accounts: z.array(accountRef).optional(),
  }),
});

const buyPickupBody = z.object({ carrier: z.string(), service: z.string() });

function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
  throw new EasyPostRequestError(easypostError(422, 'PARAMETER.INVALID', `Invalid parameters: ${problems}`));
}

function carrierOfAccount(accountId: string): CarrierName {
  for (const [name, account] of Object.entries(SANDBOX_CARRIER_ACCOUNTS)) {
    if (account.id === accountId) return name as CarrierName;
  }
  throw new EasyPostRequestError(easypostError(422, 'PARAMETER.INVALID', `Unknown carrier account ${accountId}.`));
}

/** The rate one carrier account offers for a parcel to an address (none where it does not deliver). */
function rate(carrier: CarrierName, postalCode: string): ShipmentRate | undefined {
  if (carrier === 'primary' && postalCode === UNSERVICEABLE_POSTAL_CODE) return undefined;
  const account = SANDBOX_CARRIER_ACCOUNTS[carrier];
  return {
    id: newId('rate'),
    carrier: account.carrier,
    service: account.service,
    carrierAccountId: account.id,
    rate: account.rate,
    currency: 'USD',
    deliveryDays: carrier === 'primary' ? 1 : 2,
  };
}

function rateJson(r: ShipmentRate, shipmentId: string) {
  return {
    id: r.id,
    object: 'Rate',
    carrier: r.carrier,
    service: r.service,
    carrier_account_id: r.carrierAccountId,
    rate: r.rate,
    currency: r.currency,
    delivery_days: r.deliveryDays,
    shipment_id: shipmentId,
  };
}

/** The shipment's tracker: pre-transit once bought, in transit from the carrier's acceptance scan at the pickup. */
function trackerJson(row: ShipmentRow) {
  if (!row.tracking_code || !row.purchased_at) return null;
  const details = [
    { object: 'TrackingDetail', status: 'pre_transit', message: 'Shipping label created', datetime: row.purchased_at },
  ];
  if (row.picked_up_at) {
    details.push({
      object: 'TrackingDetail',
      status: 'in_transit',
      message: 'Picked up by the carrier (acceptance scan)',
      datetime: row.picked_up_at,
    });
  }
  return {
    id: `trk_${row.id.slice(4)}`,
    object: 'Tracker',
    tracking_code: row.tracking_code,
    carrier: SANDBOX_CARRIER_ACCOUNTS[row.carrier].carrier,
    shipment_id: row.id,
    status: row.picked_up_at ? 'in_transit' : 'pre_transit',
    tracking_details: details.map((d) => ({ ...d, datetime: d.datetime.toISOString() })),
  };
}

/** A shipment as EasyPost's API returns it. */
function shipmentJson(row: ShipmentRow, baseUrl: string): Record<string, unknown> {
  const selected = row.rates.find((r) => r.id === row.selected_rate_id);
  return {
    id: row.id,
    object: 'Shipment',
    mode: 'test',
    reference: row.reference,
    to_address: row.to_address,
    from_address: row.from_address,
    parcel: { object: 'Parcel', weight: Number(row.weight_ounces) },
    rates: row.rates.map((r) => rateJson(r, row.id)),
    messages: row.messages,
    selected_rate: selected ? rateJson(selected, row.id) : null,
    tracking_code: row.tracking_code,
    postage_label: row.tracking_code
      ? {
          object: 'PostageLabel',
          label_date: row.label_date?.toISOString() ?? null,
          label_url: `${baseUrl}/_labels/${row.id}.png`,
        }
      : null,
    tracker: trackerJson(row),
    options: { label_date: row.label_date?.toISOString() ?? null },
    refund_status: row.status === 'VOIDED' ? 'submitted' : null,
    status: row.picked_up_at ? 'in_transit' : row.tracking_code ? 'pre_transit' : 'unknown',
    created_at: row.created_at.toISOString(),
    updated_at: (row.voided_at ?? row.picked_up_at ?? row.purchased_at ?? row.created_at).toISOString(),
  };
}

function pickupJson(row: PickupRow, shipment: ShipmentRow): Record<string, unknown> {
  const account = SANDBOX_CARRIER_ACCOUNTS[shipment.carrier];
  return {
    id: row.id,
    object: 'Pickup',
    mode: 'test',
    reference: row.reference,
    status: row.status,
    min_datetime: row.min_datetime.toISOString(),
    max_datetime: row.max_datetime.toISOString(),
    confirmation: row.confirmation,
    shipment_id: shipment.id,
    carrier_accounts: [{ id: account.id }],
    pickup_rates: [
      {
        id: `pickuprate_${row.id.slice(7)}`,
        object: 'PickupRate',
        carrier: account.carrier,
        service: 'Pickup',
        rate: '0.00',
        currency: 'USD',
        pickup_id: row.id,
      },
    ],
    created_at: row.created_at.toISOString(),
  };
}

/** `Authorization: Basic <key>:`: any key will do, none is a 401. */
function authenticated(req: Request): boolean {
  const basic = /^Basic\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
  if (!basic) return false;
  const [user] = Buffer.from(basic, 'base64').toString('utf8').split(':');
  return Boolean(user);
}

/** The simulated shipping API's routes, under `/v2`. `baseUrl` is where the sandbox is reached (for label URLs). */
export function easypostRouter(store: SandboxStore, faults: FaultInjector, baseUrl: () => string): express.Router {
  const router = express.Router();
  router.use(express.json({ limit: '64kb' }));

  router.use((req, res, next) => {
    if (authenticated(req)) return next();
    send(res, easypostError(401, 'APIKEY.REQUIRED', 'No API key provided: send it as the Basic auth username.'));
  });

  /** Buy a rate of a shipment in `tx`, unless the carrier refuses (a refusal fault); answers the response to send. */
  async function purchase(tx: PoolClient, shipment: ShipmentRow, rateId: string): Promise<StoredResponse> {
    const chosen = shipment.rates.find((r) => r.id === rateId);
    if (!chosen) return easypostError(422, 'SHIPMENT.RATE.INVALID', `Rate ${rateId} is not a rate of ${shipment.id}.`);
    if (shipment.status !== 'CREATED') {
      return easypostError(422, 'SHIPMENT.POSTAGE.EXISTS', `Postage already exists for shipment ${shipment.id}.`);
    }
    if (faults.refuse(shipment.carrier)) {
      return easypostError(422, 'SHIPMENT.POSTAGE.FAILURE', `The ${chosen.carrier} carrier refused the booking.`);
    }
    const prefix = SANDBOX_CARRIER_ACCOUNTS[shipment.carrier].trackingPrefix;
    const bought = await store.purchaseShipment(tx, shipment.id, chosen.id, `${prefix}${digits(12)}`);
    return { status: 200, body: shipmentJson(bought, baseUrl()) };
  }

  router.post('/shipments', async (req, res) => {
    const { shipment: params } = parse(createShipmentBody, req.body);
    const accountId = params.carrier_accounts[0] as string;
    const carrier = carrierOfAccount(accountId);
    if (!(await admit(faults, carrier, req, res, unavailable))) return;
    const id = newId('shp');
    const offered = rate(carrier, params.to_address.zip);
    const account = SANDBOX_CARRIER_ACCOUNTS[carrier];
    const messages = offered
      ? []
      : [
          {
            carrier: account.carrier,
            carrier_account_id: account.id,
            type: 'rate_error',
            message: `${account.carrier} does not deliver to postal code ${params.to_address.zip}.`,
          },
        ];
    let response: StoredResponse;
    try {
      response = await store.transaction(async (tx) => {
        const created = await store.insertShipment(tx, {
          id,
          carrier,
          carrierAccountId: accountId,
          reference: params.reference ?? null,
          toAddress: { object: 'Address', ...params.to_address },
          fromAddress: { object: 'Address', ...params.from_address },
          weightOunces: params.parcel.weight,
          rates: offered ? [offered] : [],
          messages,
          labelDate: params.options?.label_date ? new Date(params.options.label_date) : null,
        });
        if (params.service === undefined) return { status: 201, body: shipmentJson(created, baseUrl()) };
        // One-call buy: a refusal undoes the whole call, as if it never happened.
        const wanted = created.rates.find((r) => r.service === params.service);
        const bought = wanted
          ? await purchase(tx, created, wanted.id)
          : easypostError(
              422,
              'SHIPMENT.POSTAGE.FAILURE',
              messages[0]?.message ?? `${account.carrier} offers no ${params.service} rate for this shipment.`,
            );
        if (bought.status >= 400) throw new EasyPostRequestError(bought);
        return { ...bought, status: 201 };
      });
    } catch (error) {
      if (!(error instanceof EasyPostRequestError)) throw error;
      response = error.response;
    }
    await reply(faults, carrier, res, response);
  });

  router.get('/shipments/:id', async (req, res) => {
    const shipment = await store.lookupShipment(pathParam(req, 'id'));
    if (!shipment) throw notFound();
    if (!(await admit(faults, shipment.carrier, req, res, unavailable))) return;
    send(res, { status: 200, body: shipmentJson(shipment, baseUrl()) });
  });

  /** A POST against one existing shipment: fault gate of its carrier, then `work` with the shipment locked. */
  async function onShipment(
    req: Request,
    res: Response,
    work: (tx: PoolClient, shipment: ShipmentRow) => Promise<StoredResponse>,
  ): Promise<void> {
    const known = await store.lookupShipment(pathParam(req, 'id'));
    if (!known) throw notFound();
    if (!(await admit(faults, known.carrier, req, res, unavailable))) return;
    const response = await store.transaction(async (tx) => {
      const shipment = await store.findShipment(tx, known.id, true);
      if (!shipment) throw notFound();
      return work(tx, shipment);
    });
    await reply(faults, known.carrier, res, response);
  }

  router.post('/shipments/:id/buy', async (req, res) => {
    const { rate: chosen } = parse(buyShipmentBody, req.body);
    await onShipment(req, res, (tx, shipment) => purchase(tx, shipment, chosen.id));
  });

  router.post('/shipments/:id/refund', async (req, res) => {
    await onShipment(req, res, async (tx, shipment) => {
      if (shipment.status === 'CREATED') {
        return easypostError(422, 'SHIPMENT.REFUND.UNAVAILABLE', `Shipment ${shipment.id} has no postage to refund.`);
      }
      if (shipment.status === 'PICKED_UP') {
        return easypostError(
          422,
          'SHIPMENT.REFUND.UNAVAILABLE',
          `The carrier has scanned the label of ${shipment.id}; it can no longer be refunded.`,
        );
      }
      // Refunding twice is a no-op: a retried refund whose first answer was lost must still succeed.
      const voided = shipment.status === 'VOIDED' ? shipment : await store.setShipmentStatus(tx, shipment.id, 'VOIDED');
      return { status: 200, body: shipmentJson(voided, baseUrl()) };
    });
  });

  router.post('/pickups', async (req, res) => {
    const { pickup: params } = parse(createPickupBody, req.body);
    const shipment = await store.lookupShipment(params.shipment.id);
    if (!shipment) throw notFound();
    if (!(await admit(faults, shipment.carrier, req, res, unavailable))) return;
    const response = await store.transaction(async (tx): Promise<StoredResponse> => {
      const locked = await store.findShipment(tx, shipment.id, true);
      if (!locked || locked.status === 'CREATED' || locked.status === 'VOIDED') {
        return easypostError(
          422,
          'PICKUP.SHIPMENT.INVALID',
          `Shipment ${shipment.id} has no valid label to collect (${locked?.status === 'VOIDED' ? 'refunded' : 'not bought'}).`,
        );
      }
      const pickup = await store.insertPickup(tx, {
        id: newId('pickup'),
        shipmentId: locked.id,
        reference: params.reference ?? null,
        minDatetime: new Date(params.min_datetime),
        maxDatetime: new Date(params.max_datetime),
      });
      return { status: 201, body: pickupJson(pickup, locked) };
    });
    await reply(faults, shipment.carrier, res, response);
  });

  router.get('/pickups/:id', async (req, res) => {
    const pickup = await store.lookupPickup(pathParam(req, 'id'));
    const shipment = pickup && (await store.lookupShipment(pickup.shipment_id));
    if (!pickup || !shipment) throw notFound();
    if (!(await admit(faults, shipment.carrier, req, res, unavailable))) return;
    send(res, { status: 200, body: pickupJson(pickup, shipment) });
  });

  router.post('/pickups/:id/buy', async (req, res) => {
    parse(buyPickupBody, req.body);
    const known = await store.lookupPickup(pathParam(req, 'id'));
    const knownShipment = known && (await store.lookupShipment(known.shipment_id));
    if (!known || !knownShipment) throw notFound();
    if (!(await admit(faults, knownShipment.carrier, req, res, unavailable))) return;
    const response = await store.transaction(async (tx): Promise<StoredResponse> => {
      // Shipment first, then pickup: the same lock order as a refund, which takes only the shipment.
      const shipment = await store.findShipment(tx, known.shipment_id, true);
      const pickup = await store.findPickup(tx, known.id, true);
      if (!shipment || !pickup) throw notFound();
      if (shipment.status === 'VOIDED') {
        return easypostError(422, 'PICKUP.SHIPMENT.INVALID', `The label of ${shipment.id} was refunded.`);
      }
      if (pickup.status === 'canceled')
        return easypostError(422, 'PICKUP.CANCELED', `Pickup ${pickup.id} was canceled.`);
      const scheduled =
        pickup.status === 'scheduled' ? pickup : await store.schedulePickup(tx, pickup.id, `WRL${digits(9)}`);
      // The simulated carrier collects at once: the acceptance scan is recorded with the confirmation.
      const collected =
        shipment.status === 'PICKED_UP' ? shipment : await store.setShipmentStatus(tx, shipment.id, 'PICKED_UP');
      return { status: 200, body: pickupJson(scheduled, collected) };
    });
    await reply(faults, knownShipment.carrier, res, response);
  });

  router.use((req: Request, res: Response) => {
    send(res, easypostError(404, 'NOT_FOUND', `No route for ${req.method} /v2${req.path}.`));
  });

  router.use((error: unknown, _req: Request, res: Response, next: (error: unknown) => void) => {
    if (res.headersSent) return next(error);
    if (error instanceof EasyPostRequestError) return send(res, error.response);
    if (error instanceof Error && 'status' in error && typeof error.status === 'number' && error.status < 500) {
      return send(res, easypostError(400, 'PARAMETER.INVALID', `Invalid request body: ${error.message}`));
    }
    next(error);
  });
  return router;
}

import EasyPostClient from '@easypost/api';
import { ProviderFailureTypes, ProviderUnavailableError, providerRefusal, type ProviderFailureType } from './errors';
import type { Address, Carrier, CarrierName, Label, RecordedLabel } from './types';

/** One of the two carriers as a carrier account of the EasyPost account, and the service bought from it. */
export interface CarrierAccount {
  /** EasyPost carrier account ID, `ca_...`. */
  id: string;
  /** The service to buy, e.g. `Priority`, `Ground`. */
  service: string;
}

/** Where EasyPost's API is, which accounts stand for the two carriers, and where parcels ship from. */
export interface EasyPostCarriersOptions {
  apiKey: string;
  /** Base URL of an API speaking EasyPost's protocol, ending in `/v2/` (the sandbox); unset: api.easypost.com. */
  baseUrl?: string;
  /** Budget of one request; past it the answer counts as lost (the next attempt looks the label up first). */
  timeoutMs: number;
  accounts: Record<CarrierName, CarrierAccount>;
  /** The farm's address, in EasyPost's shape (`street1`, `city`, `zip`, `country`, ...). */
  fromAddress: Record<string, unknown>;
}

const GRAMS_PER_OUNCE = 28.349523125;

/**
 * The reference of an order's shipment at one carrier. EasyPost has no idempotency keys; a shipment can be retrieved
 * by its reference instead, which is how a booking whose answer was lost is found again. One per order and carrier:
 * an order never holds two labels, and a later round at the same carrier finds the first one.
 */
export const labelReference = (orderId: string, carrier: CarrierName): string => `order:${orderId}:label:${carrier}`;

/** The reference of the carrier's collection of that shipment (a Pickup, retrievable by reference as well). */
export const pickupReference = (orderId: string, carrier: CarrierName): string => `order:${orderId}:pickup:${carrier}`;

/** The parts of EasyPost's Shipment the adapter reads. */
interface ShipmentView {
  id: string;
  reference?: string | null;
  tracking_code?: string | null;
  refund_status?: string | null;
  rates?: { id: string; carrier_account_id?: string; service?: string; carrier?: string }[];
  messages?: { carrier_account_id?: string; message?: string; type?: string }[];
  options?: { label_date?: string | null } | null;
  postage_label?: { label_date?: string | null } | null;
  tracker?: { status?: string; tracking_details?: { status?: string; datetime?: string }[] } | null;
  created_at?: string;
  from_address?: Record<string, unknown>;
}

interface PickupView {
  id: string;
  status?: string;
  pickup_rates?: { carrier: string; service: string }[];
}

/** Tracker statuses before the carrier's acceptance scan (or without one: a label never used). */
const NOT_COLLECTED = new Set(['unknown', 'pre_transit', 'cancelled', 'error']);

const isVoided = (s: ShipmentView) => s.refund_status === 'submitted' || s.refund_status === 'refunded';
const isBought = (s: ShipmentView) => Boolean(s.tracking_code);
const isCollected = (s: ShipmentView) => isBought(s) && !NOT_COLLECTED.has(s.tracker?.status ?? 'unknown');

/** When the carrier had the parcel: its first tracking event past pre-transit. */
function acceptanceScan(s: ShipmentView): string | undefined {
  return s.tracker?.tracking_details?.find((d) => d.status && !NOT_COLLECTED.has(d.status))?.datetime;
}

/** The label date: the day the parcel ships, 09:00 UTC the day after booking (the farm's collection slot). */
export function nextShipDate(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1, 9, 0, 0));
}

/**
 * Both carriers over EasyPost's API with the official `@easypost/api` package, each a carrier account of one
 * EasyPost account:
 *
 * - `book`: the shipment under its reference if it exists (a lost answer's), else one-call buy (create with the
 *   carrier account and service: rated and bought in one request); a shipment rated but not bought is bought now.
 * - `voidLabel`: a refund of the label (EasyPost's void); refunding a refunded label answers as the first refund.
 * - `confirmPickup`: the carrier's collection. A Pickup for the shipment is created and bought (each found again by
 *   its reference after a lost answer); the parcel counts as handed over only once the tracker shows the carrier's
 *   acceptance scan, whose time is `pickedUpAt`. Before that scan the call fails with a retryable error.
 * - `findLabels`: the shipment under the order's reference, if its label was bought.
 */
export function createEasyPostCarriers(options: EasyPostCarriersOptions): Record<CarrierName, Carrier> {
  const baseUrl = options.baseUrl ?? 'https://api.easypost.com/v2/';
  const client = new EasyPostClient(options.apiKey, {
    baseUrl,
    // The client keeps its own `timeout` option but does not apply it to requests; superagent's deadline does.
    requestMiddleware: (request: { timeout(ms: { deadline: number }): unknown }) =>
      request.timeout({ deadline: options.timeoutMs }),
  });
  return {
    primary: carrier('primary'),
    backup: carrier('backup'),
  };

  function carrier(name: CarrierName): Carrier {
    const account = options.accounts[name];
    const provider = `carrier ${name}`;

    async function call<T>(
      method: 'GET' | 'POST',
      path: string,
      run: () => Promise<T>,
      refusal: ProviderFailureType = ProviderFailureTypes.ProviderRejected,
    ): Promise<T> {
      try {
        return await run();
      } catch (error) {
        throw mapEasyPostError(error, {
          provider,
          method,
          url: `${baseUrl}${path}`,
          timeoutMs: options.timeoutMs,
          refusal,
        });
      }
    }

    /** A shipment by ID or reference; undefined when EasyPost does not know it. */
    async function retrieve(idOrReference: string): Promise<ShipmentView | undefined> {
      try {
        return (await call('GET', `shipments/${idOrReference}`, () =>
          client.Shipment.retrieve(idOrReference),
        )) as unknown as ShipmentView;
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    }

    function toLabel(s: ShipmentView): Label {
      return {
        carrier: name,
        labelId: s.id,
        trackingNumber: s.tracking_code ?? '',
        pickupDate: s.postage_label?.label_date ?? s.options?.label_date ?? s.created_at ?? new Date().toISOString(),
      };
    }

    /** Buy the shipment's rate from this carrier account (a shipment created earlier whose purchase failed). */
    async function buy(s: ShipmentView): Promise<ShipmentView> {
      const rate = s.rates?.find((r) => r.carrier_account_id === account.id && r.service === account.service);
      if (!rate) {
        const why = s.messages?.find((m) => m.carrier_account_id === account.id)?.message;
        throw providerRefusal(ProviderFailureTypes.CarrierRefused, {
          provider,
          code: 'NO_RATE',
          message: why ?? `no ${account.service} rate from carrier account ${account.id}`,
        });
      }
      return (await call(
        'POST',
        `shipments/${s.id}/buy`,
        () => client.Shipment.buy(s.id, rate.id),
        ProviderFailureTypes.CarrierRefused,
      )) as unknown as ShipmentView;
    }

    return {
      name,

      async book(req) {
        const reference = labelReference(req.orderId, name);
        const existing = await retrieve(reference);
        if (existing && isVoided(existing)) {
          // Never re-book under a voided label's reference: a second shipment with it would make the lookup ambiguous.
          throw providerRefusal(ProviderFailureTypes.CarrierRefused, {
            provider,
            code: 'LABEL_VOIDED',
            message: `the order's label ${existing.id} at this carrier was voided; book with the other carrier`,
          });
        }
        if (existing) return toLabel(isBought(existing) ? existing : await buy(existing));
        const created = (await call(
          'POST',
          'shipments',
          () =>
            client.Shipment.create({
              reference,
              to_address: toAddress(req.address),
              from_address: options.fromAddress,
              parcel: { weight: Math.max(0.1, Math.round((req.weightGrams / GRAMS_PER_OUNCE) * 10) / 10) },
              carrier_accounts: [account.id],
              service: account.service,
              options: { label_date: nextShipDate(new Date()).toISOString() },
            }),
          ProviderFailureTypes.CarrierRefused,
        )) as unknown as ShipmentView;
        return toLabel(isBought(created) ? created : await buy(created));
      },

      async voidLabel(labelId) {
        try {
          await call('POST', `shipments/${labelId}/refund`, () => client.Shipment.refund(labelId));
        } catch (error) {
          if (!isRefusal(error) || isNotFound(error)) throw error;
          // EasyPost refuses refunds it cannot make; the label's state says why.
          const shipment = await retrieve(labelId);
          if (shipment && isVoided(shipment)) return;
          if (shipment && isCollected(shipment)) {
            throw providerRefusal(ProviderFailureTypes.LabelAlreadyPickedUp, {
              provider,
              code: 'ALREADY_COLLECTED',
              message: `the carrier scanned label ${labelId}; it can no longer be refunded`,
            });
          }
          throw error;
        }
      },

      async confirmPickup(labelId) {
        const shipment = await retrieve(labelId);
        if (!shipment) {
          throw providerRefusal(ProviderFailureTypes.NotFound, {
            provider,
            code: 'NOT_FOUND',
            message: `no shipment ${labelId}`,
          });
        }
        const collected = collectedAt(shipment) ?? collectedAt(await collect(shipment));
        if (collected) return { pickedUpAt: collected };
        throw new ParcelNotCollectedError(provider, labelId);
      },

      async findLabels(orderId) {
        const shipment = await retrieve(labelReference(orderId, name));
        if (!shipment || !isBought(shipment)) return [];
        const status: RecordedLabel['status'] = isVoided(shipment)
          ? 'VOIDED'
          : isCollected(shipment)
            ? 'PICKED_UP'
            : 'BOOKED';
        return [
          {
            ...toLabel(shipment),
            status,
            reference: shipment.reference ?? labelReference(orderId, name),
            pickedUpAt: status === 'PICKED_UP' ? (acceptanceScan(shipment) ?? null) : null,
          },
        ];
      },
    };

    /** The acceptance scan's time once the carrier has the parcel; a voided label is refused. */
    function collectedAt(shipment: ShipmentView): string | undefined {
      if (isCollected(shipment)) return acceptanceScan(shipment) ?? new Date().toISOString();
      if (isVoided(shipment)) {
        throw providerRefusal(ProviderFailureTypes.LabelVoided, {
          provider,
          code: 'LABEL_VOIDED',
          message: `label ${shipment.id} was voided; there is nothing to collect`,
        });
      }
      return undefined;
    }

    /** Book the carrier's collection of a shipment (found by reference after a lost answer), then read it again. */
    async function collect(shipment: ShipmentView): Promise<ShipmentView> {
      const orderId = /^order:(.+):label:/.exec(shipment.reference ?? '')?.[1] ?? shipment.id;
      const reference = pickupReference(orderId, name);
      let pickup: PickupView | undefined;
      try {
        pickup = await call('GET', `pickups/${reference}`, () => client.Pickup.retrieve(reference));
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      const labelVoided = ProviderFailureTypes.LabelVoided;
      if (!pickup) {
        const now = new Date();
        pickup = await call(
          'POST',
          'pickups',
          () =>
            client.Pickup.create({
              reference,
              shipment: { id: shipment.id },
              address: shipment.from_address ?? options.fromAddress,
              min_datetime: now.toISOString(),
              max_datetime: new Date(now.getTime() + 24 * 3_600_000).toISOString(),
              is_account_address: true,
              instructions: 'Parcel of fresh produce at the farm gate',
              carrier_accounts: [{ id: account.id }],
            }),
          labelVoided,
        );
      }
      if (pickup.status !== 'scheduled') {
        const rate = pickup.pickup_rates?.[0];
        if (!rate) {
          throw providerRefusal(ProviderFailureTypes.CarrierRefused, {
            provider,
            code: 'NO_PICKUP_RATE',
            message: `carrier account ${account.id} offers no pickup for ${shipment.id}`,
          });
        }
        const scheduled = pickup;
        await call(
          'POST',
          `pickups/${scheduled.id}/buy`,
          () => client.Pickup.buy(scheduled.id, rate.carrier, rate.service),
          labelVoided,
        );
      }
      return (await retrieve(shipment.id)) ?? shipment;
    }
  }
}

/** The carrier has not scanned the parcel yet: retryable, the activity asks again later. */
export class ParcelNotCollectedError extends Error {
  override readonly name = 'ParcelNotCollectedError';
  constructor(provider: string, labelId: string) {
    super(`${provider}: the pickup of ${labelId} is booked; waiting for the carrier's acceptance scan`);
  }
}

function toAddress(a: Address): Record<string, string> {
  return { name: a.name, street1: a.line1, city: a.city, zip: a.postalCode, country: a.country };
}

/** An EasyPost API error (the SDK's ApiError subclasses carry `statusCode` and `code`). */
function apiError(error: unknown): { statusCode: number; code?: string; message: string } | undefined {
  if (!(error instanceof Error) || !('statusCode' in error) || typeof error.statusCode !== 'number') return undefined;
  return {
    statusCode: error.statusCode,
    code: 'code' in error ? String(error.code) : undefined,
    message: error.message,
  };
}

const isNotFound = (error: unknown): boolean =>
  apiError(error)?.statusCode === 404 ||
  (error instanceof Error && 'type' in error && (error as { type: unknown }).type === ProviderFailureTypes.NotFound);

const isRefusal = (error: unknown): boolean =>
  error instanceof Error && 'nonRetryable' in error && (error as { nonRetryable: unknown }).nonRetryable === true;

/** Which failures are which: see src/providers/errors.ts. */
function mapEasyPostError(
  error: unknown,
  context: { provider: string; method: string; url: string; timeoutMs: number; refusal: ProviderFailureType },
): Error {
  const unavailable = (reason: string, status?: number) =>
    new ProviderUnavailableError({
      provider: context.provider,
      method: context.method,
      url: context.url,
      status,
      reason,
      cause: error,
    });
  const api = apiError(error);
  if (!api) {
    const e = error as { timeout?: unknown; code?: unknown; message?: unknown };
    if (e && (e.timeout !== undefined || e.code === 'ECONNABORTED'))
      return unavailable(`timed out after ${context.timeoutMs} ms`);
    // Network errors, and answers that are not EasyPost's JSON (a proxy's error page): the next attempt looks first.
    return unavailable(`failed: ${String(e?.code ?? e?.message ?? error)}`);
  }
  const { statusCode, code, message } = api;
  if (statusCode >= 500 || statusCode === 408 || statusCode === 429) {
    return unavailable(`answered ${statusCode}${code ? ` ${code}` : ''}`, statusCode);
  }
  const detail = { provider: context.provider, status: statusCode, ...(code ? { code } : {}), message };
  if (statusCode === 404) return providerRefusal(ProviderFailureTypes.NotFound, detail);
  // 422 is EasyPost's answer to a purchase the carrier refuses; 400/401/403 are our mistakes.
  return providerRefusal(statusCode === 422 ? context.refusal : ProviderFailureTypes.ProviderRejected, detail);
}

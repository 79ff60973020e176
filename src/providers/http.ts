import { businessFailure } from '../workflows/failures';
import { z } from 'zod';
import type { ProblemBody } from '../sandbox/contract';
import { ProviderFailureTypes, ProviderUnavailableError, type ProviderFailureType } from './errors';
import type { Carrier, CarrierName, Label, NotificationChannel, PaymentGateway, Providers } from './types';

/** Where the providers live and how long one call may take. */
export interface HttpProvidersOptions {
  /** Base URL of the sandbox (or anything speaking its API), e.g. `http://127.0.0.1:4010`. */
  baseUrl: string;
  /** Budget for one HTTP call, response body included; past it the call counts as a lost response. */
  timeoutMs: number;
  /** Replaceable for tests; defaults to the global fetch. */
  fetch?: typeof fetch;
}

/** Maps a 4xx answer of one endpoint to its business failure type; undefined falls back to the generic mapping. */
type Refusals = (status: number, problem: ProblemBody) => ProviderFailureType | undefined;

interface Call<T> {
  provider: string;
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  idempotencyKey?: string;
  response: z.ZodType<T>;
  refusals?: Refusals;
}

const chargeResponse = z.object({ id: z.string(), amountCents: z.number(), currency: z.string() });
const refundResponse = z.object({ id: z.string(), amountCents: z.number() });
const labelResponse = z.object({ labelId: z.string(), trackingNumber: z.string(), pickupDate: z.string() });
const voidResponse = z.object({ status: z.literal('VOIDED') });
const pickupResponse = z.object({ status: z.literal('PICKED_UP'), pickedUpAt: z.string() });
const notificationResponse = z.object({ id: z.string() });
const chargeListResponse = z.object({
  data: z.array(
    z.object({
      id: z.string(),
      amountCents: z.number(),
      currency: z.string(),
      status: z.enum(['succeeded', 'declined']),
      idempotencyKey: z.string(),
    }),
  ),
});
const labelListResponse = z.object({
  data: z.array(
    z.object({
      labelId: z.string(),
      trackingNumber: z.string(),
      pickupDate: z.string(),
      status: z.enum(['BOOKED', 'VOIDED', 'PICKED_UP']),
      idempotencyKey: z.string(),
      pickedUpAt: z.string().nullish(),
    }),
  ),
});

/** 408 and 429 say "not now", not "never": treat them like 5xx. */
const isTransient = (status: number): boolean => status >= 500 || status === 408 || status === 429;

function isTimeout(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'name' in error && error.name === 'TimeoutError';
}

function explain(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // undici reports "fetch failed" and hides the useful part (ECONNREFUSED, socket hang up) in the cause.
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The problem body of an error answer, or a synthetic one when the provider sent something else. */
function toProblem(json: unknown, status: number, text: string): ProblemBody {
  const parsed = z
    .looseObject({ type: z.string(), title: z.string().optional(), detail: z.string().optional() })
    .safeParse(json);
  if (parsed.success) {
    const { title, detail } = parsed.data;
    return { ...parsed.data, title: title ?? parsed.data.type, status, detail: detail ?? title ?? parsed.data.type };
  }
  return { type: 'unknown', title: `HTTP ${status}`, status, detail: text.slice(0, 500) };
}

/**
 * Typed HTTP clients for the payment gateway, both carriers and the notification channel.
 *
 * Errors follow src/providers/errors.ts: business refusals are non-retryable `ApplicationFailure`s, transient
 * failures (5xx, network, timeout) are retryable {@link ProviderUnavailableError}s.
 */
export function createHttpProviders(options: HttpProvidersOptions): Providers {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const fetchImpl = options.fetch ?? fetch;
  const { timeoutMs } = options;

  async function call<T>(spec: Call<T>): Promise<T> {
    const url = `${baseUrl}${spec.path}`;
    const unavailable = (reason: string, status?: number, cause?: unknown) =>
      new ProviderUnavailableError({ provider: spec.provider, method: spec.method, url, status, reason, cause });

    // One signal covers connecting, waiting for headers and reading the body: a response that stalls midway is as
    // lost as one that never starts.
    const signal = AbortSignal.timeout(timeoutMs);
    let status: number;
    let text: string;
    try {
      const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
      if (spec.body !== undefined) headers['content-type'] = 'application/json';
      if (spec.idempotencyKey !== undefined) headers['idempotency-key'] = spec.idempotencyKey;
      const response = await fetchImpl(url, {
        method: spec.method,
        headers,
        body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
        signal,
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      throw isTimeout(error)
        ? unavailable(`timed out after ${timeoutMs} ms`, undefined, error)
        : unavailable(`failed: ${explain(error)}`, undefined, error);
    }

    const json = parseJson(text);
    if (isTransient(status)) {
      const type = toProblem(json, status, text).type;
      throw unavailable(`answered ${status}${type === 'unknown' ? '' : ` ${type}`}`, status);
    }
    if (status >= 400) {
      const problem = toProblem(json, status, text);
      const type =
        status === 422 && problem.type === 'idempotency_key_reused'
          ? ProviderFailureTypes.IdempotencyKeyReused
          : (spec.refusals?.(status, problem) ??
            (status === 404 ? ProviderFailureTypes.NotFound : ProviderFailureTypes.ProviderRejected));
      throw businessFailure(
        type,
        `${spec.provider} refused ${spec.method} ${spec.path}: ${status} ${problem.type}: ${problem.detail}`,
        { details: problem },
      );
    }
    if (status < 200 || status >= 300) throw unavailable(`answered unexpected status ${status}`, status);
    if (json === undefined) {
      // Truncated or mangled on the way: the call may have taken effect, and a keyed retry will tell.
      throw unavailable(`answered ${status} with a body that is not JSON`, status);
    }
    const parsed = spec.response.safeParse(json);
    if (!parsed.success) {
      throw businessFailure(
        ProviderFailureTypes.ProviderProtocolError,
        `${spec.provider} answered ${spec.method} ${spec.path} with an unexpected body: ${parsed.error.message}`,
        { details: json },
      );
    }
    return parsed.data;
  }

  const payments: PaymentGateway = {
    async charge(req) {
      const { idempotencyKey, ...body } = req;
      const charge = await call({
        provider: 'payments',
        method: 'POST',
        path: '/payments/charges',
        body,
        idempotencyKey,
        response: chargeResponse,
        refusals: (status) => (status === 402 ? ProviderFailureTypes.PaymentDeclined : undefined),
      });
      return { chargeId: charge.id, amountCents: charge.amountCents, currency: charge.currency };
    },
    async refund(req) {
      const { idempotencyKey, ...body } = req;
      const refund = await call({
        provider: 'payments',
        method: 'POST',
        path: '/payments/refunds',
        body,
        idempotencyKey,
        response: refundResponse,
        refusals: (status) => (status === 404 || status === 422 ? ProviderFailureTypes.RefundRejected : undefined),
      });
      return { refundId: refund.id, amountCents: refund.amountCents };
    },
    async findCharges(orderId) {
      const list = await call({
        provider: 'payments',
        method: 'GET',
        path: `/payments/charges?${new URLSearchParams({ orderId }).toString()}`,
        response: chargeListResponse,
      });
      return list.data.map((c) => ({
        chargeId: c.id,
        amountCents: c.amountCents,
        currency: c.currency,
        status: c.status,
        idempotencyKey: c.idempotencyKey,
      }));
    },
  };

  const carrier = (name: CarrierName): Carrier => {
    const provider = `carrier ${name}`;
    const labelPath = (labelId: string, action: string) =>
      `/carriers/${name}/labels/${encodeURIComponent(labelId)}/${action}`;
    return {
      name,
      async book(req): Promise<Label> {
        const { idempotencyKey, ...body } = req;
        const label = await call({
          provider,
          method: 'POST',
          path: `/carriers/${name}/labels`,
          body,
          idempotencyKey,
          response: labelResponse,
          refusals: (status) => (status === 422 ? ProviderFailureTypes.CarrierRefused : undefined),
        });
        return {
          carrier: name,
          labelId: label.labelId,
          trackingNumber: label.trackingNumber,
          pickupDate: label.pickupDate,
        };
      },
      async voidLabel(labelId) {
        await call({
          provider,
          method: 'POST',
          path: labelPath(labelId, 'void'),
          response: voidResponse,
          refusals: (status) => (status === 409 ? ProviderFailureTypes.LabelAlreadyPickedUp : undefined),
        });
      },
      async confirmPickup(labelId) {
        const pickup = await call({
          provider,
          method: 'POST',
          path: labelPath(labelId, 'pickup'),
          response: pickupResponse,
          refusals: (status) => (status === 409 ? ProviderFailureTypes.LabelVoided : undefined),
        });
        return { pickedUpAt: pickup.pickedUpAt };
      },
      async findLabels(orderId) {
        const list = await call({
          provider,
          method: 'GET',
          path: `/carriers/${name}/labels?${new URLSearchParams({ orderId }).toString()}`,
          response: labelListResponse,
        });
        return list.data.map((l) => ({
          carrier: name,
          labelId: l.labelId,
          trackingNumber: l.trackingNumber,
          pickupDate: l.pickupDate,
          status: l.status,
          idempotencyKey: l.idempotencyKey,
          pickedUpAt: l.pickedUpAt ?? null,
        }));
      },
    };
  };

  const notifications: NotificationChannel = {
    async send(req) {
      const { idempotencyKey, ...body } = req;
      const message = await call({
        provider: 'notifications',
        method: 'POST',
        path: '/notifications',
        body,
        idempotencyKey,
        response: notificationResponse,
      });
      return { messageId: message.id };
    },
  };

  return { payments, carriers: { primary: carrier('primary'), backup: carrier('backup') }, notifications };
}

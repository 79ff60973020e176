import type {
  FaultsSnapshot,
  FaultsUpdate,
  ListResponse,
  SandboxMessage,
  SandboxPaymentIntent,
  SandboxRefund,
  SandboxShipment,
  SandboxStats,
} from '../sandbox/contract';
import { labelReference } from './easypost';
import type { CarrierName, NotificationKind } from './types';

/**
 * The sandbox's operator side: fault knobs and read access to what the simulated providers recorded (`/_faults`,
 * `/_stats`, `/_records/*`, `/_mail/*`). Tests use it to break providers on purpose and to prove effects from the
 * provider's side ("exactly one PaymentIntent"); nothing in the fulfilment path does.
 */
export class SandboxAdmin {
  private readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly options: { timeoutMs?: number } = {},
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  /** Merge fault settings into the current ones (per service) and reseed; returns the whole configuration. */
  setFaults(config: FaultsUpdate): Promise<FaultsSnapshot> {
    return this.request('PUT', '/_faults', config);
  }

  /** Remove every fault. */
  async clearFaults(): Promise<void> {
    await this.request('DELETE', '/_faults');
  }

  /** The current fault configuration, remaining counters included. */
  getFaults(): Promise<FaultsSnapshot> {
    return this.request('GET', '/_faults');
  }

  /** Every PaymentIntent of an order (by its `orderId` metadata), declines included, oldest first. */
  async listPaymentIntents(orderId: string): Promise<SandboxPaymentIntent[]> {
    return this.list(`/_records/payment-intents?${new URLSearchParams({ orderId }).toString()}`);
  }

  /** Every refund of an order, oldest first. */
  async listRefunds(orderId: string): Promise<SandboxRefund[]> {
    return this.list(`/_records/refunds?${new URLSearchParams({ orderId }).toString()}`);
  }

  /** Every shipment under the order's reference at one carrier (bought or not), oldest first. */
  async listShipments(carrier: CarrierName, orderId: string): Promise<SandboxShipment[]> {
    return this.list(
      `/_records/shipments?${new URLSearchParams({ reference: labelReference(orderId, carrier) }).toString()}`,
    );
  }

  /** Every message the SMTP listener received about an order (and kind), oldest first. */
  async listMessages(orderId: string, kind?: NotificationKind): Promise<SandboxMessage[]> {
    return this.list(`/_mail/messages?${new URLSearchParams({ orderId, ...(kind ? { kind } : {}) }).toString()}`);
  }

  /** Record counts per table. */
  stats(): Promise<SandboxStats> {
    return this.request('GET', '/_stats');
  }

  private async list<T>(path: string): Promise<T[]> {
    return (await this.request<ListResponse<T>>('GET', path)).data;
  }

  private async request<T>(method: 'GET' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`Sandbox ${method} ${path} failed with ${response.status}: ${text}`);
    return JSON.parse(text) as T;
  }
}

import type {
  FaultsSnapshot,
  FaultsUpdate,
  ListResponse,
  SandboxCharge,
  SandboxLabel,
  SandboxNotification,
  SandboxRefund,
  SandboxStats,
} from '../sandbox/contract';
import type { CarrierName } from './types';

/**
 * The sandbox's operator side: fault knobs and read access to what the providers recorded. Tests use it to break
 * providers on purpose and to prove effects from the provider's side ("exactly one charge"); nothing in the
 * fulfilment path does.
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

  /** Every charge of an order, declines included, oldest first. */
  async listCharges(orderId: string): Promise<SandboxCharge[]> {
    return (await this.request<ListResponse<SandboxCharge>>('GET', `/payments/charges?${query(orderId)}`)).data;
  }

  /** Every refund of an order, oldest first. */
  async listRefunds(orderId: string): Promise<SandboxRefund[]> {
    return (await this.request<ListResponse<SandboxRefund>>('GET', `/payments/refunds?${query(orderId)}`)).data;
  }

  /** Every label a carrier booked for an order, oldest first. */
  async listLabels(carrier: CarrierName, orderId: string): Promise<SandboxLabel[]> {
    const path = `/carriers/${carrier}/labels?${query(orderId)}`;
    return (await this.request<ListResponse<SandboxLabel>>('GET', path)).data;
  }

  /** Every message sent about an order, oldest first. */
  async listNotifications(orderId: string): Promise<SandboxNotification[]> {
    return (await this.request<ListResponse<SandboxNotification>>('GET', `/notifications?${query(orderId)}`)).data;
  }

  /** Record counts per table. */
  stats(): Promise<SandboxStats> {
    return this.request('GET', '/_stats');
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

const query = (orderId: string): string => new URLSearchParams({ orderId }).toString();

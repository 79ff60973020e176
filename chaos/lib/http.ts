/** The chaos run's HTTP client for the API: the same calls a customer, a crew and an admin make. */
export const KEYS = { customer: 'demo-customer-key', crew: 'demo-crew-key', admin: 'demo-admin-key' } as const;

export interface HttpResult {
  /** 0 when no answer came back (connection refused, reset, timeout). */
  status: number;
  json: unknown;
  headers: Headers | undefined;
  error?: string;
}

export async function call(
  baseUrl: string,
  method: 'GET' | 'POST',
  path: string,
  options: { key: string; body?: unknown; headers?: Record<string, string>; timeoutMs?: number },
): Promise<HttpResult> {
  try {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${options.key}`,
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...options.headers,
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = text;
    }
    return { status: response.status, json, headers: response.headers };
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return { status: 0, json: undefined, headers: undefined, error: `${(error as Error).message}${cause}` };
  }
}

/** Transient answers worth repeating with the same Idempotency-Key: no answer, 5xx, 429. */
export const transient = (status: number): boolean => status === 0 || status >= 500 || status === 429;

import { createHash, randomBytes, randomInt } from 'node:crypto';
import type { Request, Response } from 'express';
import type { FaultService } from './contract';
import type { FaultInjector } from './faults';
import type { StoredResponse } from './store';

/**
 * What the simulated protocols share: the fault gate in front of every request, the "lost answer" after a committed
 * side effect, request hashing for idempotency keys, and identifiers. Each protocol keeps its own error body format,
 * so the gate asks the protocol how an outage looks on its wire.
 */

/** A protocol's error body for a 503 the fault gate answers. */
export type UnavailableBody = (service: FaultService, reason: string) => Record<string, unknown>;

/** True once the client hung up (or the server destroyed the socket while shutting down). */
export function connectionClosed(res: Response): boolean {
  return res.destroyed || res.socket === null || res.socket.destroyed;
}

/**
 * Wait `ms`, giving up early when the connection closes: a hung request whose client gave up (or a server shutting
 * down) must not keep a timer alive. Resolves true if the connection is still open afterwards.
 */
export function pause(ms: number, res: Response): Promise<boolean> {
  return new Promise((resolve) => {
    if (connectionClosed(res)) return resolve(false);
    const onClose = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      res.off('close', onClose);
      resolve(!connectionClosed(res));
    }, ms);
    res.once('close', onClose);
  });
}

/** Send a stored (or freshly built) JSON response. */
export function send(res: Response, response: StoredResponse, headers: Record<string, string> = {}): void {
  res.status(response.status).set(headers).json(response.body);
}

/**
 * Apply a service's faults before a request does anything: latency for every request, then, for mutating ones,
 * outage / failNext / errorRate answered with a 503 in the protocol's format. False when the request was answered.
 */
export async function admit(
  faults: FaultInjector,
  service: FaultService,
  req: Request,
  res: Response,
  unavailable: UnavailableBody,
): Promise<boolean> {
  const latency = faults.latencyMs(service);
  if (latency > 0 && !(await pause(latency, res))) return false;
  if (req.method === 'GET') return true;
  const reason = faults.reject(service);
  if (!reason) return true;
  res.set('Retry-After', '1');
  send(res, { status: 503, body: unavailable(service, `simulated ${service} fault: ${reason}`) });
  return false;
}

/** Answer a request whose side effect is committed, unless a fault says this answer gets lost for a while. */
export async function reply(
  faults: FaultInjector,
  service: FaultService,
  res: Response,
  response: StoredResponse,
  headers: Record<string, string> = {},
): Promise<void> {
  const hang = faults.hangMs(service);
  if (hang !== undefined && !(await pause(hang, res))) return;
  if (!connectionClosed(res)) send(res, response, headers);
}

/** JSON with sorted keys, so the same parameters always hash the same. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A stable hash of a request's parameters: the same parameters in any order hash the same. */
export const requestHash = (params: unknown): string =>
  createHash('sha256').update(canonicalJson(params)).digest('hex');

/** A provider-style identifier, e.g. `pi_3f9c...`. */
export const newId = (prefix: string): string => `${prefix}_${randomBytes(12).toString('hex')}`;

/** `n` random decimal digits. */
export const digits = (n: number): string => Array.from({ length: n }, () => randomInt(10)).join('');

/** A path parameter (Express 5 types them loosely). */
export function pathParam(req: Request, name: string): string {
  const value = req.params[name];
  return typeof value === 'string' ? value : '';
}

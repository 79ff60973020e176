import type { RequestHandler } from 'express';
import { problems } from './problem';

export type Role = 'customer' | 'crew' | 'admin';
export interface Principal {
  key: string;
  role: Role;
  /** The customer ID for customers; a crew or admin name otherwise. */
  subject: string;
}

/** Demo keys for development and tests only; production refuses to start without API_KEYS. */
export const DEMO_KEYS =
  'demo-customer-key:customer:cust-demo,demo-crew-key:crew:crew-north,demo-admin-key:admin:admin';

export function parseApiKeys(spec: string): Map<string, Principal> {
  const keys = new Map<string, Principal>();
  for (const entry of spec
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const [key, role, subject] = entry.split(':');
    if (!key || !subject || (role !== 'customer' && role !== 'crew' && role !== 'admin')) {
      throw new Error(`API_KEYS entry "${entry}" is not key:role:subject with role customer|crew|admin`);
    }
    keys.set(key, { key, role, subject });
  }
  return keys;
}

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

/** Attach the caller's principal from `Authorization: Bearer <key>` or `X-Api-Key`. */
export function authenticate(keys: Map<string, Principal>): RequestHandler {
  return (req, _res, next) => {
    const header = req.header('authorization');
    const key = header?.startsWith('Bearer ') ? header.slice(7).trim() : req.header('x-api-key');
    if (key) {
      const principal = keys.get(key);
      if (!principal) return next(problems.unauthorized());
      req.principal = principal;
    }
    next();
  };
}

/** Require one of the roles; 401 without a key, 403 with the wrong role. */
export function requireRole(...roles: Role[]): RequestHandler {
  return (req, _res, next) => {
    if (!req.principal) return next(problems.unauthorized());
    if (!roles.includes(req.principal.role)) return next(problems.forbidden(req.principal.role, roles));
    next();
  };
}

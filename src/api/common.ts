import { z } from 'zod';
import type { Role } from './auth';

/**
 * Building blocks shared by every resource's schemas, and the shape of a route's documentation.
 * Each resource's `schemas.ts` describes its routes with `RouteDoc`s; the router validates with the
 * very same schemas (src/api/validate.ts) and /openapi.json is generated from them.
 */

const CONTROL = /\p{Cc}/u;
const CONTROL_EXCEPT_WHITESPACE = /[^\P{Cc}\t\n\r]/u;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Free text that PostgreSQL and JSON can store as sent: trimmed, bounded, no control characters
 * (a NUL byte is refused by `text` and `jsonb` columns) and no lone UTF-16 surrogates.
 */
export function safeText(max: number, options: { multiline?: boolean } = {}) {
  const control = options.multiline ? CONTROL_EXCEPT_WHITESPACE : CONTROL;
  return z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((s) => !control.test(s), 'must not contain control characters')
    .refine((s) => !LONE_SURROGATE.test(s), 'must be well-formed Unicode');
}

export const skuSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'must be 1-64 letters, digits, - or _')
  .describe('Product SKU, e.g. TOM-HEIRLOOM');

export const orderIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,80}$/, 'not an order ID')
  .describe('Order ID, as returned by POST /orders');

export const customerIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.@-]{1,80}$/, 'not a customer ID')
  .describe('Customer ID (a customer API key’s subject)');

/** ISO 8601 timestamp in a JSON response (what `Date#toJSON` writes). */
export const timestampSchema = z.iso.datetime();

/** Years outside this range are refused before they reach PostgreSQL (it has no year 0). */
const EARLIEST = Date.UTC(1970, 0, 1);
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** A query-string instant: an ISO date (`2026-11-22`, midnight UTC) or date-time with offset. */
export const isoInstantQuery = z
  .union([z.iso.datetime({ offset: true }), z.iso.date()])
  .transform((s) => new Date(s))
  .refine((d) => !Number.isNaN(d.getTime()) && d.getTime() >= EARLIEST && d.getTime() <= LATEST, {
    message: 'must be between 1970-01-01 and 9999-12-31',
  });

/** RFC 9457 problem document, as the one error middleware (src/api/problem.ts) writes it. */
export const problemSchema = z
  .object({
    type: z.string().describe('Stable identifier such as /problems/validation; switch on this'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().describe('The request path'),
    errors: z
      .array(
        z
          .object({
            in: z.enum(['path', 'query', 'header', 'body']).optional(),
            path: z.string().describe('Dotted path of the bad field, or (root)'),
            message: z.string(),
          })
          .strict(),
      )
      .optional()
      .describe('Validation problems only: every bad field'),
  })
  .catchall(z.unknown())
  .describe('application/problem+json (RFC 9457)');

/** A JSON response (or another content type, e.g. the HTML receipt). */
export interface SuccessDoc {
  description: string;
  schema?: z.ZodType;
  contentType?: string;
}
/** A problem response: its stable `type`s (without the /problems/ prefix). */
export interface ProblemDoc {
  description: string;
  problems: readonly string[];
}
export type ResponseDoc = SuccessDoc | ProblemDoc;

/**
 * One route, documented. `access`: `public` needs no key (and ignores one); `optional` works
 * without a key but refuses a bad one; a role list needs a key with one of the roles.
 */
export interface RouteDoc {
  method: 'get' | 'post';
  /** Express syntax: /orders/:id */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  access: 'public' | 'optional' | readonly Role[];
  params?: z.ZodType;
  query?: z.ZodType;
  headers?: z.ZodType;
  body?: z.ZodType;
  responses: Readonly<Record<number, ResponseDoc>>;
}

/** Routes that take no query parameters still refuse unknown ones. */
export const noQuery = z.object({}).strict();

import { z } from 'zod';
import type { Role } from './auth';

/**
 * Building blocks shared by every resource's schemas, and the shape of a route's documentation.
 * Each resource's `schemas.ts` describes its routes with `RouteDoc`s; the router validates with the
 * very same schemas (src/api/validate.ts) and /openapi.json is generated from them.
 */

/*
 * Rules are written so that zod and the JSON Schema of /openapi.json carry the same thing: a
 * `.refine()` is invisible to JSON Schema, so every rule here is a regex, a bound or an enum, and
 * where a check needs code (counting code points, unique items) the JSON Schema keyword that states
 * it is attached to the very same schema with `.meta()`.
 *
 * Patterns mean the same with and without the `u` flag (JSON Schema tools differ on that): no
 * `\p{...}`, and a surrogate pair is matched as such, so a lone surrogate never matches.
 */

/** Control characters (Unicode Cc), and the same without tab, line feed and carriage return. */
const CONTROL = '\\u0000-\\u001F\\u007F-\\u009F';
const CONTROL_EXCEPT_WHITESPACE = '\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F';
const PAIR = '[\\uD800-\\uDBFF][\\uDC00-\\uDFFF]';

/**
 * Text that is not blank, has no control characters and no lone surrogates. Leading white space,
 * then one visible character, then anything allowed: each part excludes the one before, so the
 * match is linear in the length of the text.
 */
export function textPattern(options: { multiline?: boolean } = {}): RegExp {
  const control = options.multiline ? CONTROL_EXCEPT_WHITESPACE : CONTROL;
  const space = `[^\\S${control}]`;
  const visible = `(?:[^\\s${control}\\uD800-\\uDFFF]|${PAIR})`;
  const allowed = `(?:[^${control}\\uD800-\\uDFFF]|${PAIR})`;
  return new RegExp(`^${space}*${visible}${allowed}*$`);
}

/** Length as JSON Schema counts it: code points, not UTF-16 units (`'🍅'.length` is 2). */
export function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function explainText(input: unknown, control: RegExp): string {
  if (typeof input !== 'string' || input.trim() === '') return 'must not be blank';
  if (control.test(input)) return 'must not contain control characters';
  return 'must be well-formed Unicode';
}

/**
 * Free text that PostgreSQL and JSON can store as sent: not blank, at most `max` characters (code
 * points, counted as sent), no control characters (a NUL byte is refused by `text` and `jsonb`
 * columns) and no lone UTF-16 surrogates; stored trimmed.
 */
export function safeText(max: number, options: { multiline?: boolean } = {}) {
  const control = new RegExp(`[${options.multiline ? CONTROL_EXCEPT_WHITESPACE : CONTROL}]`);
  return z
    .string()
    .refine((s) => codePoints(s) <= max, { message: `must be at most ${max} characters`, abort: true })
    .regex(textPattern(options), { error: (issue) => explainText(issue.input, control) })
    .meta({ minLength: 1, maxLength: max })
    .trim();
}

/** An array whose items are all different (JSON Schema `uniqueItems`, compared as JSON). */
export function uniqueArray<T extends z.ZodType>(item: T, bounds: { min: number; max: number }, what: string) {
  return z
    .array(item)
    .min(bounds.min)
    .max(bounds.max)
    .refine(
      (items) => new Set(items.map((i) => JSON.stringify(i))).size === items.length,
      `each ${what} may appear only once`,
    )
    .meta({ uniqueItems: true });
}

export const skuSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'must be 1-64 letters, digits, - or _')
  .meta({ description: 'Product SKU, e.g. TOM-HEIRLOOM', examples: ['TOM-HEIRLOOM', 'LET-BUTTER'] });

export const orderIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,80}$/, 'not an order ID')
  .describe('Order ID, as returned by POST /orders');

export const customerIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.@-]{1,80}$/, 'not a customer ID')
  .meta({ description: 'Customer ID (a customer API key’s subject)', examples: ['cust-demo'] });

/** ISO 8601 timestamp in a JSON response (what `Date#toJSON` writes). */
export const timestampSchema = z.iso.datetime();

/*
 * Query-string instants. The year is bounded as written (1970-9999: PostgreSQL has no year 0, and
 * orders are never older than 1970), by the pattern itself, so the document states the bound; an
 * offset may move the instant a day beyond it, which PostgreSQL stores fine.
 */
const YEAR = '(?:19[7-9]\\d|[2-9]\\d{3})';
const LEAP_YEAR = '(?:19(?:7[26]|8[048]|9[26])|[2-9]\\d(?:0[48]|[2468][048]|[13579][26])|(?:[2468][048]|[3579][26])00)';
const MONTH_DAY =
  '(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\\d|30)|02-(?:0[1-9]|1\\d|2[0-8]))';
const DATE = `(?:${YEAR}-${MONTH_DAY}|${LEAP_YEAR}-02-29)`;
const TIME = '(?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(?:\\.\\d+)?(?:Z|[+-](?:[01]\\d|2[0-3]):[0-5]\\d)';

/** A query-string instant: an ISO date (`2026-11-22`, midnight UTC) or date-time with offset. */
export const isoInstantQuery = z
  .string()
  .regex(new RegExp(`^${DATE}(?:T${TIME})?$`), 'must be a date (2026-11-22) or date-time with offset, years 1970-9999')
  .meta({ examples: ['2026-11-22', '2026-11-22T08:00:00+01:00'] })
  .transform((s) => new Date(s));

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

/**
 * An OpenAPI link: an operation a response leads to, its parameters filled from the response by
 * runtime expressions such as `$response.body#/orderId`.
 */
export interface LinkDoc {
  operationId: string;
  parameters: Readonly<Record<string, string>>;
  description: string;
}

/** A JSON response (or another content type, e.g. the HTML receipt). */
export interface SuccessDoc {
  description: string;
  schema?: z.ZodType;
  contentType?: string;
  /** The same answer in other content types, chosen by the request's `Accept` (e.g. HTML for a browser). */
  alternatives?: Readonly<Record<string, z.ZodType>>;
  /** Response headers worth a client's attention (Location, Idempotent-Replayed...). */
  headers?: Readonly<Record<string, { description: string; schema: z.ZodType }>>;
  links?: Readonly<Record<string, LinkDoc>>;
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

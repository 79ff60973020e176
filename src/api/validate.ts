import type { Request } from 'express';
import type { z } from 'zod';
import { HttpProblem, problems, type FieldError } from './problem';

type Part = 'params' | 'query' | 'headers' | 'body';
type Schemas = { [K in Part]?: z.ZodType };
export type Validated<S extends Schemas> = { [K in Part]: S[K] extends z.ZodType ? z.output<S[K]> : undefined };

const WHERE: Record<Part, FieldError['in']> = { params: 'path', query: 'query', headers: 'header', body: 'body' };
export const JSON_TYPES = ['application/json', 'application/*+json'];

/** Only the headers the schema names, lower-cased, so a strict header schema ignores the rest. */
function pickHeaders(req: Request, schema: z.ZodType): Record<string, unknown> {
  const shape = (schema as unknown as { shape?: Record<string, unknown> }).shape ?? {};
  const picked: Record<string, unknown> = {};
  for (const name of Object.keys(shape)) {
    const value = req.headers[name.toLowerCase()];
    if (value !== undefined) picked[name] = value;
  }
  return picked;
}

/**
 * Parse a request's path params, query, headers and body with a route's schemas, once, and report
 * every bad field of every part together as one 400 `validation` problem.
 * A body in another content type than JSON is 415, so it is never mistaken for an empty body.
 */
export function validate<S extends Schemas>(req: Request, route: S): Validated<S> {
  const hasContent = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? '0') > 0;
  if (route.body && req.body === undefined && hasContent && req.is(JSON_TYPES) === false) {
    throw new HttpProblem(
      415,
      'unsupported-media-type',
      'Unsupported media type',
      `Send the body as application/json, not ${req.header('content-type') ?? 'without a Content-Type'}`,
    );
  }
  const errors: FieldError[] = [];
  const out: Partial<Record<Part, unknown>> = {};
  for (const part of ['params', 'query', 'headers', 'body'] as const) {
    const schema = route[part];
    if (!schema) continue;
    const input: unknown = part === 'headers' ? pickHeaders(req, schema) : req[part];
    const result = schema.safeParse(input);
    if (result.success) out[part] = result.data;
    else {
      for (const issue of result.error.issues) {
        const at = issue.path.map(String);
        // One error per unknown field, named, rather than one for the object that holds them.
        const named =
          issue.code === 'unrecognized_keys'
            ? issue.keys.map((key) => ({ path: [...at, key], message: 'is not a known field' }))
            : [{ path: at, message: issue.message }];
        for (const e of named) errors.push({ in: WHERE[part], path: e.path.join('.') || '(root)', message: e.message });
      }
    }
  }
  if (errors.length > 0) throw problems.validation(errors);
  return out as Validated<S>;
}

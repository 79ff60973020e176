import type { ErrorRequestHandler, RequestHandler } from 'express';
import { WorkflowNotFoundError } from '@temporalio/client';
import { ZodError } from 'zod';
import type { Logger } from '../lib/logger';

/**
 * RFC 9457 problem documents. `type` is a stable identifier clients can switch on; it resolves to
 * the README section describing the problem.
 */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly title: string,
    readonly detail?: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail ?? title);
  }
}

/** One bad field of a request: where it was (path, query, header, body), its dotted path and why. */
export interface FieldError {
  in?: 'path' | 'query' | 'header' | 'body';
  path: string;
  message: string;
}

export const problems = {
  validation: (errors: FieldError[]) =>
    new HttpProblem(400, 'validation', 'Invalid request', errors.map((e) => `${e.path}: ${e.message}`).join('; '), {
      errors,
    }),
  notFound: (what: string) => new HttpProblem(404, 'not-found', 'Not found', `${what} does not exist or is not yours`),
  unauthorized: () =>
    new HttpProblem(
      401,
      'unauthorized',
      'Unauthorized',
      'Send an API key as `Authorization: Bearer <key>` or `X-Api-Key`',
    ),
  forbidden: (role: string, needed: readonly string[], detail?: string) =>
    new HttpProblem(
      403,
      'forbidden',
      'Forbidden',
      detail ?? `Role ${role} cannot do this; needs one of: ${needed.join(', ')}`,
    ),
  conflict: (type: string, detail: string, extra?: Record<string, unknown>) =>
    new HttpProblem(409, type, 'Conflict', detail, extra),
};

function send(res: Parameters<ErrorRequestHandler>[2], problem: HttpProblem, instance: string): void {
  res
    .status(problem.status)
    .type('application/problem+json')
    .json({
      // Extension members first: they can never overwrite the standard ones (status is the HTTP status).
      ...problem.extra,
      type: `/problems/${problem.type}`,
      title: problem.title,
      status: problem.status,
      detail: problem.detail,
      instance,
    });
}

/** Unknown routes get a problem document too, never Express's HTML page. */
export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new HttpProblem(404, 'route-not-found', 'Not found', `No route for ${req.method} ${req.path}`));
};

/** The one error middleware: every failure leaves as application/problem+json. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    if (res.headersSent) return;
    const instance = req.originalUrl;
    if (error instanceof HttpProblem) return send(res, error, instance);
    if (error instanceof ZodError) {
      const errors = error.issues.map((issue) => ({
        path: issue.path.map(String).join('.') || '(root)',
        message: issue.message,
      }));
      return send(res, problems.validation(errors), instance);
    }
    if (error instanceof WorkflowNotFoundError) return send(res, problems.notFound('The order'), instance);
    const http = error as { type?: string; status?: number; message?: string };
    if (http.type === 'entity.too.large') {
      return send(
        res,
        new HttpProblem(413, 'payload-too-large', 'Payload too large', 'Request bodies are limited to 64 kB'),
        instance,
      );
    }
    if (http.type === 'encoding.unsupported' || http.type === 'charset.unsupported') {
      return send(
        res,
        new HttpProblem(
          415,
          'unsupported-media-type',
          'Unsupported media type',
          'Send the body as UTF-8 application/json without a Content-Encoding, or gzip/deflate/br',
        ),
        instance,
      );
    }
    if (http.type === 'entity.parse.failed') {
      return send(
        res,
        new HttpProblem(400, 'malformed-body', 'Malformed body', 'The body is not valid JSON'),
        instance,
      );
    }
    if (typeof http.status === 'number' && http.status >= 400 && http.status < 500) {
      // Body-parser and router client errors (a bad %-escape in the path, a corrupt gzip body...).
      return send(res, new HttpProblem(http.status, 'bad-request', 'Bad request', http.message), instance);
    }
    log.error({ err: error, path: req.path }, 'unhandled error');
    return send(
      res,
      new HttpProblem(500, 'internal', 'Internal error', 'Something went wrong on our side; it was logged'),
      instance,
    );
  };
}

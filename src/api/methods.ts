import type { RequestHandler } from 'express';
import type { RouteDoc } from './common';
import { HttpProblem } from './problem';

/** One documented path and the methods it answers, HEAD and OPTIONS included. */
interface PathMethods {
  pattern: string;
  matcher: RegExp;
  methods: Set<string>;
}

/**
 * An Express path (`/orders/:id`) as Express's router matches it by default: case-insensitive,
 * a parameter is one non-empty segment, a trailing slash is optional.
 */
function pathMatcher(path: string): RegExp {
  const segments = path
    .replace(/\/$/, '')
    .split('/')
    .map((s) => (s.startsWith(':') ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return new RegExp(`^${segments.join('/')}/?$`, 'i');
}

function pathTable(routes: readonly RouteDoc[]): PathMethods[] {
  const byPath = new Map<string, PathMethods>();
  for (const route of routes) {
    const entry = byPath.get(route.path) ?? {
      pattern: route.path,
      matcher: pathMatcher(route.path),
      methods: new Set(['OPTIONS']),
    };
    entry.methods.add(route.method.toUpperCase());
    // Express answers HEAD with the GET handler.
    if (route.method === 'get') entry.methods.add('HEAD');
    byPath.set(route.path, entry);
  }
  return [...byPath.values()];
}

const ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const byHttpOrder = (a: string, b: string) => ORDER.indexOf(a) - ORDER.indexOf(b);

/**
 * Methods per known path, before anything else looks at the request: OPTIONS answers 204 with
 * `Allow`, a method the path does not take answers 405 with `Allow` (a problem document), and
 * anything else goes on to the routers. Unknown paths go on too, to end as 404 route-not-found.
 * It works from the documented routes; test/api/openapi.test.ts proves they are the served ones.
 * The matched pattern is left in `res.locals.routePattern` for the metrics' route label.
 */
export function allowedMethods(routes: readonly RouteDoc[]): RequestHandler {
  const table = pathTable(routes);
  return (req, res, next) => {
    const matched = table.filter((entry) => entry.matcher.test(req.path));
    if (matched.length === 0) return next();
    res.locals.routePattern = matched[0]!.pattern;
    const allowed = [...new Set(matched.flatMap((entry) => [...entry.methods]))].sort(byHttpOrder);
    if (req.method !== 'OPTIONS' && allowed.includes(req.method)) return next();
    res.set('Allow', allowed.join(', '));
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    next(
      new HttpProblem(
        405,
        'method-not-allowed',
        'Method not allowed',
        `${req.path} does not take ${req.method}; it takes ${allowed.join(', ')}`,
      ),
    );
  };
}

import type { RequestHandler } from 'express';
import type { Logger } from '../lib/logger';

/**
 * One JSON line per request: method, route pattern, status, duration, the caller's role, and the
 * order or harvest task it concerns when the path names one (so an order's lines can be grepped
 * across the API and the worker).
 */
export function requestLog(log: Logger): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    res.once('finish', () => {
      const params = req.params as Record<string, string | undefined>;
      const id = params.id;
      const route = (req.route as { path?: string } | undefined)?.path;
      const entry = {
        method: req.method,
        route: route ? String(route) : req.path,
        status: res.statusCode,
        ms: Number(process.hrtime.bigint() - start) / 1e6,
        role: req.principal?.role,
        ...(id?.startsWith('o-') ? { orderId: id, workflowId: `order-${id}` } : {}),
        ...(id?.startsWith('hv-') ? { harvestTaskId: id, orderId: id.slice(3) } : {}),
        ...(res.getHeader('location') ? { location: res.getHeader('location') } : {}),
      };
      if (res.statusCode >= 500) log.error(entry, 'request failed');
      else log.info(entry, 'request');
    });
    next();
  };
}

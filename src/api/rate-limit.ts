import type { RequestHandler } from 'express';
import { HttpProblem } from './problem';

/**
 * Fixed one-minute windows per API key (or per client address for anonymous calls), in memory.
 * Each API replica limits on its own, so N replicas allow up to N times the limit; put a shared
 * limiter in front of the API when that matters.
 */
export function rateLimit(perMinute: number, now: () => number = Date.now): RequestHandler {
  const windows = new Map<string, { start: number; count: number }>();
  return (req, res, next) => {
    const who = req.principal?.key ?? `ip:${req.ip ?? 'unknown'}`;
    const t = now();
    let window = windows.get(who);
    if (!window || t - window.start >= 60_000) {
      window = { start: t, count: 0 };
      windows.set(who, window);
      if (windows.size > 10_000) {
        for (const [key, w] of windows) if (t - w.start >= 60_000) windows.delete(key);
      }
    }
    window.count += 1;
    const remaining = Math.max(0, perMinute - window.count);
    const resetSeconds = Math.ceil((window.start + 60_000 - t) / 1000);
    res.setHeader('RateLimit-Limit', perMinute);
    res.setHeader('RateLimit-Remaining', remaining);
    res.setHeader('RateLimit-Reset', resetSeconds);
    if (window.count > perMinute) {
      res.setHeader('Retry-After', resetSeconds);
      return next(
        new HttpProblem(429, 'rate-limited', 'Too many requests', `At most ${perMinute} requests per minute per key`),
      );
    }
    next();
  };
}

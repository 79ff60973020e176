import { Router } from 'express';
import type { Client } from '@temporalio/client';
import type { Db } from '../../db/client';

/** Liveness and readiness for load balancers and orchestrators; no key needed. */
export function healthRouter({ db, temporal }: { db: Db; temporal: Client }): Router {
  const router = Router();

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    const [database, temporalCheck] = await Promise.all([
      db.$queryRaw`SELECT 1`.then(
        () => 'ok' as const,
        (e: Error) => e.message,
      ),
      temporal.workflowService.getSystemInfo({}).then(
        () => 'ok' as const,
        (e: Error) => e.message,
      ),
    ]);
    const ready = database === 'ok' && temporalCheck === 'ok';
    res
      .status(ready ? 200 : 503)
      .json({ status: ready ? 'ready' : 'not-ready', checks: { database, temporal: temporalCheck } });
  });

  return router;
}

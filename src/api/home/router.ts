import { Router } from 'express';
import { escapeHtml, HTML_SECURITY_HEADERS } from '../../receipts/receipt';
import { HttpProblem } from '../problem';
import { validate } from '../validate';
import { homeRoutes, type Index } from './schemas';

/** The index's links; `temporalUi` only when the API knows where the Web UI is. */
export function buildIndex(temporalUiUrl: string | undefined): Index {
  return {
    name: 'harvest-to-door',
    description: 'Order fulfilment for a farm: every order is a Temporal workflow.',
    links: {
      self: { href: '/', title: 'This index' },
      docs: { href: '/docs', title: 'API documentation (every route, one page)' },
      openapi: { href: '/openapi.json', title: 'OpenAPI 3.1 document' },
      healthz: { href: '/healthz', title: 'Liveness probe' },
      readyz: { href: '/readyz', title: 'Readiness probe (PostgreSQL and Temporal)' },
      metrics: { href: '/metrics', title: 'Prometheus metrics' },
      ...(temporalUiUrl ? { temporalUi: { href: temporalUiUrl, title: 'Temporal Web UI (the workflows)' } } : {}),
    },
  };
}

/** The same links as a page with no scripts and no outside assets. */
export function renderIndexPage(index: Index): string {
  const items = Object.values(index.links)
    .filter((link) => link !== undefined)
    .map((link) => `<li><a href="${escapeHtml(link.href)}">${escapeHtml(link.title)}</a></li>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(index.name)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:40rem}li{margin:.3rem 0}</style></head>
<body>
<h1>${escapeHtml(index.name)}</h1>
<p>${escapeHtml(index.description)}</p>
<ul>
${items}
</ul>
</body></html>
`;
}

/** GET /: JSON for API clients, HTML for browsers. */
export function homeRouter({ temporalUiUrl }: { temporalUiUrl?: string }): Router {
  const router = Router();
  const index = buildIndex(temporalUiUrl);
  const page = renderIndexPage(index);

  router.get('/', (req, res) => {
    validate(req, homeRoutes.index);
    res.vary('Accept');
    // JSON first: no Accept header, or */*, means an API client.
    const type = req.accepts(['application/json', 'text/html']);
    if (type === 'application/json') res.json(index);
    else if (type === 'text/html') res.set(HTML_SECURITY_HEADERS).type('text/html; charset=utf-8').send(page);
    else {
      throw new HttpProblem(406, 'not-acceptable', 'Not acceptable', 'The index is application/json or text/html');
    }
  });

  return router;
}

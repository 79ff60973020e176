import { Router } from 'express';
import { escapeHtml, HTML_SECURITY_HEADERS } from '../../receipts/receipt';
import { buildOpenApi, type OpenApiDocument } from './openapi';

interface OperationView {
  summary: string;
  description?: string;
  parameters: { name: string; in: string; required: boolean }[];
  requestBody?: unknown;
  responses: Record<string, unknown>;
  'x-access': unknown;
}

/** Render the document's routes as one table: no scripts, no CDN, nothing but this page. */
export function renderDocsPage(doc: OpenApiDocument): string {
  const rows = Object.entries(doc.paths)
    .flatMap(([path, item]) =>
      Object.entries(item).map(([method, raw]) => {
        const op = raw as OperationView;
        const access = Array.isArray(op['x-access']) ? op['x-access'].join(', ') : String(op['x-access']);
        const params = op.parameters.map((p) => `${p.name}${p.required ? '' : '?'} (${p.in})`);
        if (op.requestBody) params.push('JSON body');
        return `<tr><td><code>${escapeHtml(method.toUpperCase())}</code></td><td><code>${escapeHtml(path)}</code></td>
<td>${escapeHtml(access)}</td><td>${escapeHtml(op.summary)}</td><td>${params.map(escapeHtml).join('<br>')}</td>
<td>${Object.keys(op.responses).map(escapeHtml).join(' ')}</td></tr>`;
      }),
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(doc.info.title)} API</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}
td,th{border-bottom:1px solid #ddd;padding:.35rem .6rem;text-align:left;vertical-align:top}</style></head>
<body>
<h1>${escapeHtml(doc.info.title)} API ${escapeHtml(doc.info.version)}</h1>
<p>${escapeHtml(doc.info.description)} Send <code>Authorization: Bearer &lt;key&gt;</code> or <code>X-Api-Key</code>.
The machine-readable document is <a href="/openapi.json">/openapi.json</a> (OpenAPI ${escapeHtml(doc.openapi)}).</p>
<table>
<thead><tr><th>Method</th><th>Path</th><th>Who</th><th>What</th><th>Parameters</th><th>Responses</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</body></html>
`;
}

/** /openapi.json and /docs, built once from the route schemas. */
export function docsRouter(): Router {
  const router = Router();
  const doc = buildOpenApi();
  const page = renderDocsPage(doc);

  router.get('/openapi.json', (_req, res) => {
    res.json(doc);
  });

  router.get('/docs', (_req, res) => {
    res.set(HTML_SECURITY_HEADERS).type('text/html; charset=utf-8').send(page);
  });

  return router;
}

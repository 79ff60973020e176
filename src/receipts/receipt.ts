/** The customer's receipt as a self-contained HTML page. Every value from the database is escaped. */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

export function formatMoney(cents: number, currency: string): string {
  try {
    return new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(cents / 100);
  } catch {
    // An unknown currency code: still a readable amount.
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

export interface ReceiptData {
  orderId: string;
  status: string;
  currency: string;
  createdAt: Date;
  customer: { name: string; email: string };
  shippingAddress: Record<string, unknown>;
  lines: {
    sku: string;
    name: string;
    unit: string;
    quantity: number;
    harvestedQuantity: number | null;
    unitPriceCents: number;
  }[];
  chargedCents: number;
  refunds: { id: string; amountCents: number; createdAt: Date }[];
  shipment: { carrier: string; trackingNumber: string; pickupDate: Date; status: string } | null;
}

/** Receipts only; a strict policy so that even a missed escape could not run script. */
export const HTML_SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
} as const;

export function renderReceipt(r: ReceiptData): string {
  const money = (cents: number) => escapeHtml(formatMoney(cents, r.currency));
  const rows = r.lines
    .map((l) => {
      const harvested = l.harvestedQuantity ?? 0;
      return `<tr><td>${escapeHtml(l.name)} <small>${escapeHtml(l.sku)}</small></td><td class="n">${l.quantity}</td>
<td class="n">${harvested} ${escapeHtml(l.unit)}</td><td class="n">${money(l.unitPriceCents)}</td>
<td class="n">${money(harvested * l.unitPriceCents)}</td></tr>`;
    })
    .join('\n');
  const subtotal = r.lines.reduce((sum, l) => sum + (l.harvestedQuantity ?? 0) * l.unitPriceCents, 0);
  const refunded = r.refunds.reduce((sum, f) => sum + f.amountCents, 0);
  const refundRows = r.refunds
    .map(
      (f) =>
        `<tr><td colspan="4">Refund ${escapeHtml(f.id)} on ${escapeHtml(f.createdAt.toISOString().slice(0, 10))}</td><td class="n">-${money(f.amountCents)}</td></tr>`,
    )
    .join('\n');
  const a = r.shippingAddress;
  const address = ['name', 'line1', 'city', 'postalCode', 'country']
    .map((k) => a[k])
    .filter((v): v is string => typeof v === 'string' && v.length > 0)
    .map(escapeHtml)
    .join('<br>');
  const shipment = r.shipment
    ? `<p>Carrier: <strong>${escapeHtml(r.shipment.carrier)}</strong>, tracking number
<strong class="tracking">${escapeHtml(r.shipment.trackingNumber)}</strong>, pickup ${escapeHtml(r.shipment.pickupDate.toISOString().slice(0, 10))} (${escapeHtml(r.shipment.status)})</p>`
    : '<p>Not shipped.</p>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Receipt for order ${escapeHtml(r.orderId)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}
.n{text-align:right}tfoot td{font-weight:bold}</style></head>
<body>
<h1>Harvest to door: receipt</h1>
<p>Order <code>${escapeHtml(r.orderId)}</code>, placed ${escapeHtml(r.createdAt.toISOString().slice(0, 10))}, status ${escapeHtml(r.status)}.</p>
<p>For ${escapeHtml(r.customer.name)} (${escapeHtml(r.customer.email)})<br>Ship to:<br>${address}</p>
<table>
<thead><tr><th>Product</th><th class="n">Ordered</th><th class="n">Harvested</th><th class="n">Unit price</th><th class="n">Amount</th></tr></thead>
<tbody>
${rows}
</tbody>
<tfoot>
<tr><td colspan="4">Subtotal (harvested)</td><td class="n">${money(subtotal)}</td></tr>
<tr><td colspan="4">Charged</td><td class="n" id="charged">${money(r.chargedCents)}</td></tr>
${refundRows}
<tr><td colspan="4">Total paid</td><td class="n" id="total">${money(r.chargedCents - refunded)}</td></tr>
</tfoot>
</table>
${shipment}
</body></html>
`;
}

/**
 * Re-render the markdown and SVG of saved results (after editing bench/FINDINGS.md or the report code):
 *
 *   node --import tsx bench/render.ts bench/results/<timestamp>.json [--latest]
 *
 * JSON stores NaN as null; the report prints both as n/a.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { BenchResults } from './lib/results';
import { writeResults } from './lib/report';

const args = process.argv.slice(2);
const latest = args.includes('--latest');
for (const file of args.filter((a) => !a.startsWith('--'))) {
  const results = JSON.parse(fs.readFileSync(file, 'utf8')) as BenchResults;
  const base = path.basename(file).replace(/\.json$/, '');
  writeResults(results, base, latest || base === 'latest');
  console.log(`rendered ${base}.md and ${base}.svg${latest ? ' (and latest.*)' : ''}`);
}

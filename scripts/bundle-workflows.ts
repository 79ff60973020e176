/**
 * Prebuild the workflow bundles for production workers (WORKFLOW_BUNDLE_PATH): dist/workflow-bundle.js, and
 * dist/workflow-bundle.tracing.js with the OpenTelemetry interceptors (see src/lib/workflow-bundle.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeOrderWorkflowBundles } from '../src/lib/workflow-bundle';

const root = path.resolve(__dirname, '..');
writeOrderWorkflowBundles(path.join(root, 'dist', 'workflow-bundle.js')).then(
  (files) => {
    for (const file of files) {
      console.log(`wrote ${path.relative(root, file)} (${(fs.statSync(file).size / 1024).toFixed(0)} KiB)`);
    }
  },
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

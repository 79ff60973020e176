import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../../src/codec/data-converter';

const ROOT = path.resolve(__dirname, '../..');

/**
 * A workflow bundle of src/workflows with one deliberate edit to order-fulfillment.ts, made at test time from the
 * current source so it never goes stale: `edit` gets the file's text and returns the changed text (it must change
 * it; a pattern that no longer matches fails the test instead of testing nothing).
 */
export async function bundleWithEdit(edit: (source: string) => string): Promise<WorkflowBundleWithSourceMap> {
  const source = path.join(ROOT, 'src', 'workflows');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'htd-workflow-variant-'));
  for (const file of fs.readdirSync(source).filter((f) => f.endsWith('.ts'))) {
    fs.copyFileSync(path.join(source, file), path.join(dir, file));
  }
  const file = path.join(dir, 'order-fulfillment.ts');
  const original = fs.readFileSync(file, 'utf8');
  const changed = edit(original);
  if (changed === original) throw new Error('the edit changed nothing: its pattern no longer matches the workflow');
  fs.writeFileSync(file, changed);
  try {
    return await bundleWorkflowCode({
      workflowsPath: path.join(dir, 'index.ts'),
      // As every bundle of the project: failures keep their messages in encoded attributes (src/codec).
      failureConverterPath: FAILURE_CONVERTER_PATH,
      logger: new DefaultLogger('WARN'),
      // The copy lives outside the project: resolve the SDK (and ../activities types) from the project.
      webpackConfigHook: (config) => ({
        ...config,
        resolve: { ...config.resolve, modules: [path.join(ROOT, 'node_modules'), 'node_modules'] },
      }),
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

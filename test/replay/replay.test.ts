import fs from 'node:fs';
import path from 'node:path';
import {
  bundleWorkflowCode,
  DefaultLogger,
  Runtime,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { HISTORIES_DIR, SCENARIOS } from '../../scripts/record-histories';
import { workflowBundle } from '../support/workflow-harness';
import { historyFromJSONValue } from './history-json';

/**
 * Replay: every committed history (test/replay/histories, written by `npm run replay:record`) must
 * replay against the current workflow code without a determinism error. A failure here means a
 * change to src/workflows would break orders already in flight: gate it behind `patched()` rather
 * than re-recording (see the comment at the top of scripts/record-histories.ts).
 */

try {
  // Quiet: the negative case below makes the SDK log the nondeterminism it detects as a warning.
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } },
  });
} catch {
  // A runtime is already installed in this process.
}

const files = fs
  .readdirSync(HISTORIES_DIR)
  .filter((file) => file.endsWith('.json'))
  .sort();

function loadHistory(file: string) {
  return historyFromJSONValue(JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, file), 'utf8')));
}

describe('workflow replay against recorded histories', () => {
  let current: WorkflowBundleWithSourceMap;
  beforeAll(async () => {
    current = await workflowBundle();
  }, 60_000);

  it('has one committed history per recorded scenario, and no stray ones', () => {
    expect(files).toEqual(SCENARIOS.map((s) => `${s.name}.json`).sort());
  });

  it.each(files)('replays %s with the current workflow code without a determinism error', async (file) => {
    const history = loadHistory(file);
    expect(history.events?.length).toBeGreaterThan(10);
    await expect(
      Worker.runReplayHistory({ workflowBundle: current }, history, path.basename(file, '.json')),
    ).resolves.toBeUndefined();
  });

  it('rejects a workflow that no longer runs reserveInventory with a DeterminismViolationError on the happy-path history', async () => {
    const changed = await bundleWorkflowCode({
      workflowsPath: require.resolve('./fixtures/changed-workflow'),
      logger: new DefaultLogger('WARN'),
    });
    const history = loadHistory('happy-path.json');
    const reserveScheduled = history.events?.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'reserveInventory',
    )?.eventId;
    expect(reserveScheduled).toBeDefined();

    const error = await Worker.runReplayHistory({ workflowBundle: changed }, history, 'happy-path').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DeterminismViolationError);
    // It diverged at the deliberate change: the message names reserveInventory, or the history event
    // that scheduled it (Core words it either way, depending on the command the code issued instead).
    expect((error as Error).message).toMatch(
      new RegExp(`reserveInventory|HistoryEvent\\(id: ${String(reserveScheduled)},`),
    );
  }, 60_000);
});

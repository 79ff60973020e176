import fs from 'node:fs';
import path from 'node:path';
import { DefaultLogger, ReplayError, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { HISTORIES_DIR, SCENARIOS } from '../../scripts/record-histories';
import { ENCRYPTED_ENCODING } from '../../src/codec/codec';
import { createDataConverter } from '../../src/codec/data-converter';
import { TEST_KEY_RING, testDataConverter } from '../support/codec';
import { payloadsOf, plaintextPayloads } from '../support/history-payloads';
import { workflowBundle } from '../support/workflow-harness';
import { bundleWithEdit } from '../support/workflow-variants';
import { historyFromJSONValue } from './history-json';

/**
 * Replay: every committed history must replay against the current workflow code without a determinism error. A
 * failure here means a change to src/workflows would break orders already in flight: gate it behind `patched()`
 * rather than re-recording (see the comment at the top of scripts/record-histories.ts).
 *
 * - test/replay/histories/*.json: the current build's behaviour, written by `npm run replay:record`, encrypted as production
 *   histories are, with the public test key beside them (test-payload-keys.txt); the replay decodes with it;
 * - test/replay/histories/<build-id>/*.json: frozen recordings of an earlier build whose orders may still be
 *   waiting when the new build rolls out (none yet: nothing was deployed before this build). The versioning test
 *   (test/e2e/versioning.test.ts) shows the whole cycle with two builds.
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

const jsonFiles = (dir: string) =>
  fs
    .readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .sort();
const current = jsonFiles(HISTORIES_DIR);
const frozen = fs
  .readdirSync(HISTORIES_DIR, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .flatMap((entry) => jsonFiles(path.join(HISTORIES_DIR, entry.name)).map((file) => path.join(entry.name, file)));

function loadHistory(file: string) {
  return historyFromJSONValue(JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, file), 'utf8')));
}

/** The reserveInventory step as it reads in src/workflows/order-fulfillment.ts. */
const RESERVE_STEP = /const reserved = await database\.reserveInventory\.executeWithOptions\([\s\S]*?\n {4}\]\);\n/;

/** The current workflow with one deliberate change: the reserveInventory step is gone. */
function bundleWithoutReserveInventory(): Promise<WorkflowBundleWithSourceMap> {
  // The harvest window is then computed from no lines; everything else is the real workflow.
  return bundleWithEdit((code) => code.replace(RESERVE_STEP, 'const reserved: ReservedLine[] = [];\n'));
}

describe('workflow replay against recorded histories', () => {
  let bundle: WorkflowBundleWithSourceMap;
  beforeAll(async () => {
    bundle = await workflowBundle();
  }, 60_000);

  it('has one committed history per recorded scenario, and no stray ones', () => {
    expect(current).toEqual(SCENARIOS.map((s) => `${s.name}.json`).sort());
  });

  it.each([...current, ...frozen])(
    'replays %s with the current workflow code without a determinism error',
    async (file) => {
      const history = loadHistory(file);
      expect(history.events?.length).toBeGreaterThan(10);
      await expect(
        Worker.runReplayHistory(
          { workflowBundle: bundle, dataConverter: testDataConverter() },
          history,
          path.basename(file, '.json'),
        ),
      ).resolves.toBeUndefined();
    },
  );

  it.each(current)('%s is recorded encrypted with the test key: no customer data in plain text', (file) => {
    const history = loadHistory(file);
    expect(plaintextPayloads(history)).toEqual([]);
    const encrypted = payloadsOf(history).filter((p) => p.encoding === ENCRYPTED_ENCODING);
    expect(encrypted.length).toBeGreaterThan(5);
    expect([...new Set(encrypted.map((p) => p.keyId))]).toEqual([TEST_KEY_RING.current.id]);
  });

  it('when happy-path.json is replayed without the key, then the workflow cannot read its input', async () => {
    const error = await Worker.runReplayHistory(
      { workflowBundle: bundle, dataConverter: createDataConverter(undefined) },
      loadHistory('happy-path.json'),
      'happy-path',
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    // The workflow task fails on the encrypted input (the same history replays with the key, above).
    expect(error).toBeInstanceOf(ReplayError);
    expect((error as Error).message).toMatch(/workflow task failure/);
  });

  describe('when the workflow no longer runs reserveInventory', () => {
    let changed: WorkflowBundleWithSourceMap;
    beforeAll(async () => {
      changed = await bundleWithoutReserveInventory();
    }, 60_000);

    it.each(['happy-path.json', 'cancel-signal-after-pickup.json'])(
      'then replaying %s fails with a DeterminismViolationError at that step',
      async (file) => {
        const history = loadHistory(file);
        const error = await Worker.runReplayHistory(
          { workflowBundle: changed, dataConverter: testDataConverter() },
          history,
          file,
        ).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(DeterminismViolationError);
        // It diverged at the deliberate change: the message names reserveInventory (a local activity's marker, or
        // the activity task of the older path), or the history event that recorded it.
        const reserveEvent = history.events?.find(
          (e) =>
            e.activityTaskScheduledEventAttributes?.activityType?.name === 'reserveInventory' ||
            (e.markerRecordedEventAttributes?.markerName === 'core_local_activity' &&
              Buffer.from(e.markerRecordedEventAttributes.details?.data?.payloads?.[0]?.data ?? []).includes(
                '"reserveInventory"',
              )),
        )?.eventId;
        expect(reserveEvent).toBeDefined();
        expect((error as Error).message).toMatch(
          new RegExp(`reserveInventory|HistoryEvent\\(id: ${String(reserveEvent)},`),
        );
      },
      60_000,
    );
  });
});

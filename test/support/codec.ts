import fs from 'node:fs';
import path from 'node:path';
import type { DataConverter } from '@temporalio/common';
import { createDataConverter } from '../../src/codec/data-converter';
import { parseKeyRing, type KeyRing } from '../../src/codec/keys';

/**
 * The tests' payload key: a public test key that ships with the replay fixtures it encrypted
 * (test/replay/histories/test-payload-keys.txt). Every harness encrypts with it, as production encrypts with
 * PAYLOAD_KEYS.
 */
export const TEST_PAYLOAD_KEYS_FILE = path.resolve(__dirname, '..', 'replay', 'histories', 'test-payload-keys.txt');

/** The key file's content in PAYLOAD_KEYS form (for processes the tests start). */
export const TEST_PAYLOAD_KEYS = fs
  .readFileSync(TEST_PAYLOAD_KEYS_FILE, 'utf8')
  .split(/\r?\n/)
  .filter((line) => line.trim() && !line.startsWith('#'))
  .join(',');

export const TEST_KEY_RING: KeyRing = parseKeyRing(TEST_PAYLOAD_KEYS, TEST_PAYLOAD_KEYS_FILE);

/** The project's DataConverter with the test key. */
export function testDataConverter(): DataConverter {
  return createDataConverter(TEST_KEY_RING);
}

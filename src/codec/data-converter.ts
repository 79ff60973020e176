import type { DataConverter } from '@temporalio/common';
import type { Config } from '../config';
import { AesGcmPayloadCodec } from './codec';
import { ensureLocalKeyFile, localKeyFile } from './bootstrap';
import { fileKeySource, inlineKeySource, type KeyRing, type KeySource } from './keys';

/**
 * The one place the project's DataConverter is built. The API's client (src/lib/temporal.ts), the worker
 * (src/worker.ts), the codec server, the bench, the chaos suite, the tests and the history recorder all use it, so
 * every payload is encrypted the same way and every failure carries its message and stack in encoded attributes.
 *
 * The workflow bundle gets the same failure converter through FAILURE_CONVERTER_PATH (src/lib/workflow-bundle.ts):
 * workflow code converts its own errors inside the sandbox. The codec itself runs outside the sandbox, in the worker.
 */

/** Module with the `failureConverter` export, for `bundleWorkflowCode` and `DataConverter.failureConverterPath`. */
export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

/** The DataConverter for `ring`; without one, no encryption (PAYLOAD_ENCRYPTION=off) and the same failure converter. */
export function createDataConverter(ring: KeyRing | undefined): DataConverter {
  return {
    failureConverterPath: FAILURE_CONVERTER_PATH,
    ...(ring ? { payloadCodecs: [new AesGcmPayloadCodec(ring)] } : {}),
  };
}

type KeyConfig = Pick<
  Config,
  'NODE_ENV' | 'HTD_DATA_DIR' | 'PAYLOAD_ENCRYPTION' | 'PAYLOAD_KEYS' | 'PAYLOAD_KEYS_FILE'
>;

/**
 * Where this process's payload keys come from: `PAYLOAD_KEYS`, else `PAYLOAD_KEYS_FILE`; outside production the
 * data folder's key file (created once); in production neither set refuses to start. Undefined: encryption is off.
 * A KMS-backed source would be chosen here too.
 */
export function keySourceFor(config: KeyConfig): KeySource | undefined {
  const production = config.NODE_ENV === 'production';
  if (config.PAYLOAD_ENCRYPTION === 'off') {
    if (production) throw new Error('PAYLOAD_ENCRYPTION=off is refused in production: customer data must be encrypted');
    return undefined;
  }
  if (config.PAYLOAD_KEYS) return inlineKeySource(config.PAYLOAD_KEYS);
  if (config.PAYLOAD_KEYS_FILE) return fileKeySource(config.PAYLOAD_KEYS_FILE);
  if (production) {
    throw new Error(
      'PAYLOAD_KEYS (or PAYLOAD_KEYS_FILE) must be set in production: customer data in Temporal is encrypted with it ' +
        '(id:base64key,...; make a key with `openssl rand -base64 32`)',
    );
  }
  const file = localKeyFile(config.HTD_DATA_DIR);
  return {
    description: `local key file ${file}`,
    keys: async () => {
      ensureLocalKeyFile(config.HTD_DATA_DIR);
      return fileKeySource(file).keys();
    },
  };
}

/** The configured DataConverter (keys loaded). */
export async function dataConverterFor(config: KeyConfig): Promise<DataConverter> {
  const source = keySourceFor(config);
  return createDataConverter(source ? await source.keys() : undefined);
}

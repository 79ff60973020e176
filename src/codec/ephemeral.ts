import { randomBytes } from 'node:crypto';
import type { DataConverter } from '@temporalio/common';
import { createLogger } from '../lib/logger';
import { AesGcmPayloadCodec } from './codec';
import { createDataConverter } from './data-converter';
import { generateKeyEntry, parseKeyRing } from './keys';
import { startCodecServer, type RunningCodecServer } from './server';

/**
 * A throwaway payload key, the DataConverter that uses it and a codec server on a free port, for tools that start
 * their own stack (the chaos suite, the benchmark): their worker and API processes get `payloadKeys` as PAYLOAD_KEYS,
 * their own Temporal client `dataConverter`, and their `temporal` CLI calls `cliArgs`.
 */
export interface EphemeralCodec {
  /** PAYLOAD_KEYS for the processes the tool starts. */
  payloadKeys: string;
  dataConverter: DataConverter;
  server: RunningCodecServer;
  /** `--codec-endpoint <url> --codec-auth 'Bearer <token>'` for the temporal CLI. */
  cliArgs: string[];
  close: () => Promise<void>;
}

export async function startEphemeralCodec(keyId: string, namespace: string): Promise<EphemeralCodec> {
  const payloadKeys = generateKeyEntry(keyId);
  const ring = parseKeyRing(payloadKeys, keyId);
  const token = randomBytes(24).toString('hex');
  const server = await startCodecServer({
    codec: new AesGcmPayloadCodec(ring),
    token,
    namespace,
    corsOrigins: [],
    log: createLogger('codec', 'warn'),
    host: '127.0.0.1',
    port: 0,
  });
  return {
    payloadKeys,
    dataConverter: createDataConverter(ring),
    server,
    cliArgs: ['--codec-endpoint', server.url, '--codec-auth', `Bearer ${token}`],
    close: () => server.close(),
  };
}

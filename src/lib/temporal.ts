import fs from 'node:fs';
import { Client, Connection, type ClientInterceptors, type ConnectionOptions } from '@temporalio/client';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import { dataConverterFor } from '../codec/data-converter';
import type { Config } from '../config';

/**
 * Connection options shared by the client (API) and the worker. TLS is on when a client
 * certificate or an API key is configured (Temporal Cloud), off for a local dev server.
 */
function connectionOptions(config: Config): ConnectionOptions & NativeConnectionOptions {
  const address = config.TEMPORAL_ADDRESS ?? `127.0.0.1:${config.TEMPORAL_DEV_PORT}`;
  const mtls =
    config.TEMPORAL_TLS_CERT_PATH && config.TEMPORAL_TLS_KEY_PATH
      ? {
          clientCertPair: {
            crt: fs.readFileSync(config.TEMPORAL_TLS_CERT_PATH),
            key: fs.readFileSync(config.TEMPORAL_TLS_KEY_PATH),
          },
        }
      : undefined;
  const ca = config.TEMPORAL_TLS_CA_PATH
    ? { serverRootCACertificate: fs.readFileSync(config.TEMPORAL_TLS_CA_PATH) }
    : undefined;
  const tls = mtls || ca || config.TEMPORAL_API_KEY ? { ...mtls, ...ca } : undefined;
  return { address, ...(tls ? { tls } : {}), ...(config.TEMPORAL_API_KEY ? { apiKey: config.TEMPORAL_API_KEY } : {}) };
}

/** A client of the configured namespace whose payloads go through the project's codec (src/codec). */
export async function connectClient(config: Config, interceptors?: ClientInterceptors): Promise<Client> {
  // Keys first: a process without them must fail before it talks to Temporal.
  const dataConverter = await dataConverterFor(config);
  const connection = await Connection.connect(connectionOptions(config));
  return new Client({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    dataConverter,
    ...(interceptors ? { interceptors } : {}),
  });
}

export function connectWorker(config: Config): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(config));
}

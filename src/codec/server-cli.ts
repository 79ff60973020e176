/**
 * The codec server as its own process (`npm run codec`, `node dist/codec/server-cli.js` in the image): keys from
 * PAYLOAD_KEYS / PAYLOAD_KEYS_FILE (outside production the data folder's key file), the token from
 * CODEC_SERVER_TOKEN (outside production the data folder's token file), the Web UI origins from
 * CODEC_SERVER_CORS_ORIGINS, listening on CODEC_SERVER_HOST:CODEC_SERVER_PORT.
 */
import { loadConfig, type Config } from '../config';
import { createLogger } from '../lib/logger';
import { codecServerToken } from './bootstrap';
import { AesGcmPayloadCodec } from './codec';
import { keySourceFor } from './data-converter';
import { startCodecServer, type RunningCodecServer } from './server';

/** `http://a:1,https://b` -> origins; anything that is not exactly an origin (scheme://host[:port]) is refused. */
export function parseCorsOrigins(spec: string | undefined): string[] {
  const origins = (spec ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  for (const origin of origins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || parsed.origin !== origin) {
      throw new Error(`CODEC_SERVER_CORS_ORIGINS entry "${origin}" is not an origin such as http://127.0.0.1:8233`);
    }
  }
  return origins;
}

/** Start the codec server the configuration describes. */
export async function startCodecServerFromConfig(
  config: Config,
  log = createLogger('codec', config.LOG_LEVEL),
): Promise<RunningCodecServer> {
  const source = keySourceFor(config);
  if (!source) throw new Error('The codec server needs the payload keys, but PAYLOAD_ENCRYPTION is off');
  const ring = await source.keys();
  const { token } = codecServerToken(config);
  const corsOrigins = parseCorsOrigins(config.CODEC_SERVER_CORS_ORIGINS);
  const running = await startCodecServer({
    codec: new AesGcmPayloadCodec(ring),
    token,
    namespace: config.TEMPORAL_NAMESPACE,
    corsOrigins,
    log,
    host: config.CODEC_SERVER_HOST,
    port: config.CODEC_SERVER_PORT,
  });
  log.info(
    { url: running.url, keys: source.description, encryptsWith: ring.current.id, corsOrigins },
    'codec server listening',
  );
  return running;
}

if (require.main === module) {
  const config = loadConfig();
  const log = createLogger('codec', config.LOG_LEVEL);
  startCodecServerFromConfig(config, log).then(
    (running) => {
      const stop = () => void running.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}

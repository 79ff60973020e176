import type { Config } from '../config';
import { codecServerToken, ensureLocalKeyFile } from './bootstrap';

/**
 * What `npm start` (src/stack.ts) needs to run the codec server beside the dev server: the payload keys and the
 * token (made once in the data folder unless configured), the environment to hand its children, and the codec
 * endpoint the dev server's Web UI calls.
 */
export interface EmbeddedCodec {
  /** Variables for every child process (worker, API, codec server): where the keys are. */
  env: Record<string, string>;
  /** Variables for the codec server only: the Web UI's origins. It reads the token itself (the same file). */
  serverEnv: Record<string, string>;
  /** The codec server's base URL, for the CLI (`--codec-endpoint`). */
  url: string;
  /**
   * The endpoint for the dev server's `--ui-codec-endpoint`: the base URL plus `/ui/<token>`. That UI cannot send a
   * header of its own, so the token travels in the path; the UI hands it to whoever can open the UI, the people who can
   * already do everything there.
   */
  uiEndpoint: string;
  /** What was created in the data folder, for the start-up lines. */
  created: string[];
  tokenFile?: string;
}

/** Returns undefined when payload encryption is off (then there is nothing to decode). */
export function prepareEmbeddedCodec(config: Config, options: { uiPort?: number }): EmbeddedCodec | undefined {
  if (config.PAYLOAD_ENCRYPTION === 'off') return undefined;
  const env: Record<string, string> = {};
  const serverEnv: Record<string, string> = {};
  const created: string[] = [];
  if (!config.PAYLOAD_KEYS && !config.PAYLOAD_KEYS_FILE) {
    const keys = ensureLocalKeyFile(config.HTD_DATA_DIR);
    env.PAYLOAD_KEYS_FILE = keys.file;
    if (keys.created) created.push(keys.file);
  }
  const token = codecServerToken(config);
  if (token.created && token.file) created.push(token.file);
  if (!config.CODEC_SERVER_CORS_ORIGINS && options.uiPort !== undefined) {
    // The UI is printed as 127.0.0.1, but a browser pointed at localhost sends that origin.
    serverEnv.CODEC_SERVER_CORS_ORIGINS = `http://127.0.0.1:${options.uiPort},http://localhost:${options.uiPort}`;
  }
  const host = ['0.0.0.0', '::'].includes(config.CODEC_SERVER_HOST) ? '127.0.0.1' : config.CODEC_SERVER_HOST;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${config.CODEC_SERVER_PORT}`;
  return {
    env,
    serverEnv,
    url,
    uiEndpoint: `${url}/ui/${encodeURIComponent(token.token)}`,
    created,
    ...(token.file ? { tokenFile: token.file } : {}),
  };
}

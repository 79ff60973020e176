import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config';
import { generateKeyEntry } from './keys';

/**
 * The embedded stack's secrets, made once in the data folder when the configuration names none: the payload key
 * (`payload-keys`) and the codec server's token (`codec-token`), both mode 0600. Development only: production refuses
 * to start without PAYLOAD_KEYS and CODEC_SERVER_TOKEN. Losing the key file loses the histories it encrypted, so it
 * lives beside them, in the same folder.
 */

/**
 * Read a local secret from `file`, creating it once with `create()` (mode 0600) when it does not exist yet.
 * Processes started at the same time agree on one value: the file is written aside and linked into place, which
 * fails for all but the first.
 */
export function ensureLocalSecret(file: string, create: () => string): { value: string; created: boolean } {
  try {
    return { value: fs.readFileSync(file, 'utf8'), created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  fs.writeFileSync(aside, create(), { mode: 0o600 });
  try {
    fs.linkSync(aside, file);
    return { value: fs.readFileSync(file, 'utf8'), created: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return { value: fs.readFileSync(file, 'utf8'), created: false };
  } finally {
    fs.rmSync(aside, { force: true });
  }
}

/** The data folder's payload key file. */
export function localKeyFile(dataDir: string): string {
  return path.join(dataDir, 'payload-keys');
}

/** `<data folder>/payload-keys`, created on first use with one fresh key. */
export function ensureLocalKeyFile(dataDir: string): { file: string; created: boolean } {
  const file = localKeyFile(dataDir);
  const { created } = ensureLocalSecret(
    file,
    () =>
      '# Payload keys of the embedded stack (id:base64key, the first encrypts). Development only: keep this file\n' +
      '# with the data folder, or the histories in it cannot be read. Production sets PAYLOAD_KEYS instead.\n' +
      `${generateKeyEntry(`local-${new Date().toISOString().slice(0, 10)}`)}\n`,
  );
  return { file, created };
}

/** The data folder's codec server token file. */
export function localCodecTokenFile(dataDir: string): string {
  return path.join(dataDir, 'codec-token');
}

/**
 * The codec server's bearer token: CODEC_SERVER_TOKEN, or outside production `<data folder>/codec-token` (created
 * once). Production without one refuses to start.
 */
export function codecServerToken(config: Pick<Config, 'NODE_ENV' | 'HTD_DATA_DIR' | 'CODEC_SERVER_TOKEN'>): {
  token: string;
  created: boolean;
  file?: string;
} {
  if (config.CODEC_SERVER_TOKEN) return { token: config.CODEC_SERVER_TOKEN.trim(), created: false };
  if (config.NODE_ENV === 'production') {
    throw new Error('CODEC_SERVER_TOKEN must be set in production (openssl rand -hex 32): it guards decrypted data');
  }
  const file = localCodecTokenFile(config.HTD_DATA_DIR);
  const { value, created } = ensureLocalSecret(file, () => `${randomBytes(32).toString('hex')}\n`);
  return { token: value.trim(), created, file };
}

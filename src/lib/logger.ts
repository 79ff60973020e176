import pino from 'pino';

/** Structured JSON logs; every process names itself in `service`. */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info') {
  return pino({ name: service, level, base: { service }, timestamp: pino.stdTimeFunctions.isoTime });
}

export type Logger = ReturnType<typeof createLogger>;

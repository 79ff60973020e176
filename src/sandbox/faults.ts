import { z } from 'zod';
import {
  FAULT_SERVICES,
  type FaultConfig,
  type FaultService,
  type FaultsSnapshot,
  type FaultsUpdate,
} from './contract';

/** A lost response hangs this long unless the configuration says otherwise. */
export const DEFAULT_HANG_MS = 30_000;
/** Seed of the random fault streams until a `PUT /_faults` names another. */
export const DEFAULT_SEED = 1;

const rate = z.number().min(0).max(1);
const count = z.number().int().min(0);
const millis = z.number().int().min(0).max(600_000);

const serviceFields = {
  outage: z.boolean(),
  errorRate: rate,
  timeoutRate: rate,
  latencyMs: millis,
  hangMs: millis,
  failNext: count,
  timeoutNext: count,
} as const;

// Strict objects: a typo such as `failnext` must fail loudly rather than silently inject nothing.
const serviceSchema = z.strictObject(serviceFields).partial();
const carrierSchema = z.strictObject({ ...serviceFields, refuseNext: count }).partial();

/** Validates the body of `PUT /_faults` and the `SANDBOX_FAULTS` variable. */
export const faultsUpdateSchema = z.strictObject({
  seed: z.number().int().min(0).max(0xffffffff).optional(),
  payments: serviceSchema.optional(),
  primary: carrierSchema.optional(),
  backup: carrierSchema.optional(),
  notifications: serviceSchema.optional(),
});

/** Thrown when a fault configuration does not validate; the message lists every problem. */
export class InvalidFaultsError extends Error {
  override readonly name = 'InvalidFaultsError';
}

/** Parse a fault configuration, throwing {@link InvalidFaultsError} with every problem listed. */
export function parseFaultsUpdate(input: unknown): FaultsUpdate {
  const parsed = faultsUpdateSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new InvalidFaultsError(`Invalid fault configuration: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/**
 * Parse the `SANDBOX_FAULTS` variable (JSON shaped like the body of `PUT /_faults`).
 * Unset or blank means no faults.
 */
export function parseFaultsEnv(raw: string | undefined): FaultsUpdate | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw new InvalidFaultsError(`SANDBOX_FAULTS is not valid JSON: ${(error as Error).message}`);
  }
  return parseFaultsUpdate(json);
}

/** mulberry32: tiny, fast and good enough to make fault sequences reproducible from a seed. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** FNV-1a, to give each service its own stream derived from the one seed. */
function hashName(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i += 1) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/** Why a request was turned away before doing anything. */
export type RejectReason = 'outage' | 'failNext' | 'errorRate';

/**
 * The sandbox's fault knobs, in memory and per process.
 *
 * Each service draws from its own seeded random stream, so the fault sequence one service sees does not depend on
 * how its requests interleave with another service's. Every update reseeds all streams (with the update's `seed`,
 * default 1): "configure, then send N requests" is reproducible no matter what ran before.
 */
export class FaultInjector {
  private seed = DEFAULT_SEED;
  private config: Record<FaultService, FaultConfig> = emptyConfig();
  private random: Record<FaultService, () => number> = streams(DEFAULT_SEED);

  constructor(initial?: FaultsUpdate) {
    if (initial) this.update(initial);
  }

  /** Merge an update into the current configuration (field by field, per service) and reseed. */
  update(update: FaultsUpdate): FaultsSnapshot {
    for (const service of FAULT_SERVICES) {
      const patch = update[service];
      if (patch) this.config[service] = { ...this.config[service], ...patch };
    }
    this.seed = update.seed ?? DEFAULT_SEED;
    this.random = streams(this.seed);
    return this.snapshot();
  }

  /** Remove every fault and go back to the default seed. */
  clear(): FaultsSnapshot {
    this.config = emptyConfig();
    this.seed = DEFAULT_SEED;
    this.random = streams(DEFAULT_SEED);
    return this.snapshot();
  }

  /** A copy of the current configuration, counters as they stand now. */
  snapshot(): FaultsSnapshot {
    return {
      seed: this.seed,
      payments: { ...this.config.payments },
      primary: { ...this.config.primary },
      backup: { ...this.config.backup },
      notifications: { ...this.config.notifications },
    };
  }

  /** Delay to add to any request of the service. */
  latencyMs(service: FaultService): number {
    return this.config[service].latencyMs ?? 0;
  }

  /** Decide, before a mutating request does anything, whether it fails with a 503; consumes `failNext`. */
  reject(service: FaultService): RejectReason | undefined {
    const config = this.config[service];
    if (config.outage) return 'outage';
    if (config.failNext) {
      config.failNext -= 1;
      return 'failNext';
    }
    if (config.errorRate && this.random[service]() < config.errorRate) return 'errorRate';
    return undefined;
  }

  /**
   * Decide, after a request committed its side effect, whether its response is "lost": returns how long to hang,
   * or undefined to answer at once. Consumes `timeoutNext`.
   */
  hangMs(service: FaultService): number | undefined {
    const config = this.config[service];
    const hang = config.hangMs ?? DEFAULT_HANG_MS;
    if (config.timeoutNext) {
      config.timeoutNext -= 1;
      return hang;
    }
    if (config.timeoutRate && this.random[service]() < config.timeoutRate) return hang;
    return undefined;
  }

  /** Decide whether a new carrier booking is refused; consumes `refuseNext`. */
  refuse(service: FaultService): boolean {
    const config = this.config[service];
    if (!config.refuseNext) return false;
    config.refuseNext -= 1;
    return true;
  }
}

function emptyConfig(): Record<FaultService, FaultConfig> {
  return { payments: {}, primary: {}, backup: {}, notifications: {} };
}

function streams(seed: number): Record<FaultService, () => number> {
  const make = (service: FaultService) => mulberry32((seed ^ hashName(service)) >>> 0);
  return {
    payments: make('payments'),
    primary: make('primary'),
    backup: make('backup'),
    notifications: make('notifications'),
  };
}

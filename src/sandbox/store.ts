import { Pool, type PoolClient, type PoolConfig } from 'pg';
import type {
  LabelStatus,
  SandboxCharge,
  SandboxLabel,
  SandboxNotification,
  SandboxRefund,
  SandboxStats,
} from './contract';

/**
 * The sandbox's own records, in schema `sandbox` of its database. Tables are created on start-up (no migrator):
 * the sandbox is a test double whose schema only ever grows by `IF NOT EXISTS` statements.
 */
const SCHEMA_SQL = `
CREATE SCHEMA IF NOT EXISTS sandbox;

CREATE TABLE IF NOT EXISTS sandbox.idempotency_keys (
  scope         text        NOT NULL,
  key           text        NOT NULL,
  request_hash  text        NOT NULL,
  status_code   integer,
  response_body jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, key)
);

CREATE TABLE IF NOT EXISTS sandbox.charges (
  id              text        PRIMARY KEY,
  order_id        text        NOT NULL,
  customer_id     text        NOT NULL,
  amount_cents    integer     NOT NULL CHECK (amount_cents > 0),
  currency        text        NOT NULL,
  payment_method  text        NOT NULL,
  status          text        NOT NULL CHECK (status IN ('succeeded', 'declined')),
  failure_code    text,
  idempotency_key text        NOT NULL UNIQUE,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS charges_order_id_idx ON sandbox.charges (order_id);

CREATE TABLE IF NOT EXISTS sandbox.refunds (
  id              text        PRIMARY KEY,
  charge_id       text        NOT NULL REFERENCES sandbox.charges (id),
  order_id        text        NOT NULL,
  amount_cents    integer     NOT NULL CHECK (amount_cents > 0),
  idempotency_key text        NOT NULL UNIQUE,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS refunds_order_id_idx ON sandbox.refunds (order_id);
CREATE INDEX IF NOT EXISTS refunds_charge_id_idx ON sandbox.refunds (charge_id);

CREATE TABLE IF NOT EXISTS sandbox.labels (
  id              text        PRIMARY KEY,
  carrier         text        NOT NULL CHECK (carrier IN ('primary', 'backup')),
  order_id        text        NOT NULL,
  weight_grams    integer     NOT NULL CHECK (weight_grams > 0),
  address         jsonb       NOT NULL,
  tracking_number text        NOT NULL UNIQUE,
  pickup_date     timestamptz NOT NULL,
  status          text        NOT NULL CHECK (status IN ('BOOKED', 'VOIDED', 'PICKED_UP')),
  idempotency_key text        NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  voided_at       timestamptz,
  picked_up_at    timestamptz,
  UNIQUE (carrier, idempotency_key)
);
CREATE INDEX IF NOT EXISTS labels_order_id_idx ON sandbox.labels (carrier, order_id);

CREATE TABLE IF NOT EXISTS sandbox.notifications (
  id              text        PRIMARY KEY,
  order_id        text        NOT NULL,
  channel         text        NOT NULL CHECK (channel IN ('email', 'sms')),
  recipient       text        NOT NULL,
  subject         text        NOT NULL,
  body            text        NOT NULL,
  idempotency_key text        NOT NULL UNIQUE,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS notifications_order_id_idx ON sandbox.notifications (order_id);
`;

/** A response worth remembering under an idempotency key: replayed verbatim for the same key. */
export interface StoredResponse {
  status: number;
  body: Record<string, unknown>;
}

/** What happened to a request carrying an idempotency key. */
export type IdempotentOutcome =
  | { kind: 'fresh'; response: StoredResponse }
  | { kind: 'replay'; response: StoredResponse }
  /** The key was first used with different parameters. */
  | { kind: 'mismatch' };

/** Anything that runs a parameterised query: the pool, or a client inside a transaction. */
export type Queryable = Pick<PoolClient, 'query'>;

interface ChargeRow {
  id: string;
  order_id: string;
  customer_id: string;
  amount_cents: number;
  currency: string;
  payment_method: string;
  status: SandboxCharge['status'];
  failure_code: string | null;
  idempotency_key: string;
  created_at: Date;
}

interface RefundRow {
  id: string;
  charge_id: string;
  order_id: string;
  amount_cents: number;
  idempotency_key: string;
  created_at: Date;
}

interface LabelRow {
  id: string;
  carrier: SandboxLabel['carrier'];
  order_id: string;
  weight_grams: number;
  address: SandboxLabel['address'];
  tracking_number: string;
  pickup_date: Date;
  status: LabelStatus;
  idempotency_key: string;
  created_at: Date;
  voided_at: Date | null;
  picked_up_at: Date | null;
}

interface NotificationRow {
  id: string;
  order_id: string;
  channel: SandboxNotification['channel'];
  recipient: string;
  subject: string;
  body: string;
  idempotency_key: string;
  created_at: Date;
}

const toCharge = (r: ChargeRow): SandboxCharge => ({
  id: r.id,
  orderId: r.order_id,
  customerId: r.customer_id,
  amountCents: r.amount_cents,
  currency: r.currency,
  paymentMethod: r.payment_method,
  status: r.status,
  failureCode: r.failure_code,
  idempotencyKey: r.idempotency_key,
  createdAt: r.created_at.toISOString(),
});

const toRefund = (r: RefundRow): SandboxRefund => ({
  id: r.id,
  chargeId: r.charge_id,
  orderId: r.order_id,
  amountCents: r.amount_cents,
  idempotencyKey: r.idempotency_key,
  createdAt: r.created_at.toISOString(),
});

const toLabel = (r: LabelRow): SandboxLabel => ({
  labelId: r.id,
  carrier: r.carrier,
  orderId: r.order_id,
  weightGrams: r.weight_grams,
  address: r.address,
  trackingNumber: r.tracking_number,
  pickupDate: r.pickup_date.toISOString(),
  status: r.status,
  idempotencyKey: r.idempotency_key,
  createdAt: r.created_at.toISOString(),
  voidedAt: r.voided_at?.toISOString() ?? null,
  pickedUpAt: r.picked_up_at?.toISOString() ?? null,
});

const toNotification = (r: NotificationRow): SandboxNotification => ({
  id: r.id,
  orderId: r.order_id,
  channel: r.channel,
  to: r.recipient,
  subject: r.subject,
  body: r.body,
  idempotencyKey: r.idempotency_key,
  createdAt: r.created_at.toISOString(),
});

/** Fields of a new charge; the database stamps `createdAt`. */
export type NewCharge = Omit<SandboxCharge, 'createdAt'>;
/** Fields of a new refund. */
export type NewRefund = Omit<SandboxRefund, 'createdAt'>;
/** Fields of a new label; it always starts BOOKED. */
export type NewLabel = Omit<SandboxLabel, 'createdAt' | 'status' | 'voidedAt' | 'pickedUpAt'>;
/** Fields of a new notification. */
export type NewNotification = Omit<SandboxNotification, 'createdAt'>;

/** PostgreSQL persistence of the sandbox: records, idempotency keys, and the transactions around them. */
export class SandboxStore {
  private constructor(private readonly pool: Pool) {}

  /** Connect, create the schema if needed, and return a ready store. Ends the pool again if that fails. */
  static async open(databaseUrl: string, options: Pick<PoolConfig, 'max'> = {}): Promise<SandboxStore> {
    const pool = new Pool({ connectionString: databaseUrl, max: options.max ?? 10 });
    // An idle client losing its connection (database restart) must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    const store = new SandboxStore(pool);
    try {
      await store.init();
    } catch (error) {
      await pool.end();
      throw error;
    }
    return store;
  }

  /** Create schema and tables. Serialised by an advisory lock: concurrent `IF NOT EXISTS` DDL can still collide. */
  private async init(): Promise<void> {
    await this.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext('harvest-to-door:sandbox-schema'))`);
      await tx.query(SCHEMA_SQL);
    });
  }

  /** Close every connection. */
  async close(): Promise<void> {
    await this.pool.end();
  }

  /** Run `work` in one transaction on one connection; rolls back if it throws. */
  async transaction<T>(work: (tx: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // A connection lost while checked out (database restart, pg_terminate_backend) is also emitted as an 'error'
    // event on the client; without a listener that event crashes the process. The failing query rejects anyway.
    const onError = () => undefined;
    client.on('error', onError);
    let failed = false;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      failed = true;
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.off('error', onError);
      // After a failure the connection may be broken: discard it rather than hand it to the next request.
      client.release(failed);
    }
  }

  /**
   * Execute a request at most once per (scope, key), Stripe style.
   *
   * The key row is inserted in the same transaction as the side effect. A concurrent request with the same key blocks
   * on that row's unique index until the first commits, then sees the conflict and replays the stored response; if
   * the first rolls back instead, the second goes ahead. Either way exactly one side effect commits.
   */
  async idempotent(
    scope: string,
    key: string,
    requestHash: string,
    execute: (tx: PoolClient) => Promise<StoredResponse>,
  ): Promise<IdempotentOutcome> {
    return this.transaction(async (tx) => {
      const claimed = await tx.query(
        `INSERT INTO sandbox.idempotency_keys (scope, key, request_hash) VALUES ($1, $2, $3)
         ON CONFLICT (scope, key) DO NOTHING RETURNING key`,
        [scope, key, requestHash],
      );
      if (claimed.rowCount === 1) {
        const response = await execute(tx);
        await tx.query(
          'UPDATE sandbox.idempotency_keys SET status_code = $3, response_body = $4 WHERE scope = $1 AND key = $2',
          [scope, key, response.status, JSON.stringify(response.body)],
        );
        return { kind: 'fresh', response };
      }
      // READ COMMITTED: this statement takes a new snapshot, so it sees the row the conflicting request committed.
      const existing = await tx.query<{
        request_hash: string;
        status_code: number | null;
        response_body: Record<string, unknown> | null;
      }>(
        'SELECT request_hash, status_code, response_body FROM sandbox.idempotency_keys WHERE scope = $1 AND key = $2',
        [scope, key],
      );
      const row = existing.rows[0];
      if (!row || row.status_code === null || row.response_body === null) {
        // Cannot happen while key and response commit together; fail loudly rather than replay nothing.
        throw new Error(`Idempotency key ${scope}/${key} has no stored response`);
      }
      if (row.request_hash !== requestHash) return { kind: 'mismatch' };
      return { kind: 'replay', response: { status: row.status_code, body: row.response_body } };
    });
  }

  /** Record a charge (succeeded or declined). */
  async insertCharge(tx: Queryable, charge: NewCharge): Promise<SandboxCharge> {
    const result = await tx.query<ChargeRow>(
      `INSERT INTO sandbox.charges
         (id, order_id, customer_id, amount_cents, currency, payment_method, status, failure_code, idempotency_key)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
      [
        charge.id,
        charge.orderId,
        charge.customerId,
        charge.amountCents,
        charge.currency,
        charge.paymentMethod,
        charge.status,
        charge.failureCode,
        charge.idempotencyKey,
      ],
    );
    return toCharge(firstRow(result.rows));
  }

  /** A charge locked until the transaction ends, so concurrent refunds against it are serialised. */
  async lockCharge(tx: Queryable, chargeId: string): Promise<SandboxCharge | undefined> {
    const result = await tx.query<ChargeRow>('SELECT * FROM sandbox.charges WHERE id = $1 FOR UPDATE', [chargeId]);
    const row = result.rows[0];
    return row && toCharge(row);
  }

  /** Sum of every refund against a charge. */
  async refundedCents(tx: Queryable, chargeId: string): Promise<number> {
    const result = await tx.query<{ total: string }>(
      'SELECT coalesce(sum(amount_cents), 0)::text AS total FROM sandbox.refunds WHERE charge_id = $1',
      [chargeId],
    );
    return Number(firstRow(result.rows).total);
  }

  /** Record a refund. */
  async insertRefund(tx: Queryable, refund: NewRefund): Promise<SandboxRefund> {
    const result = await tx.query<RefundRow>(
      `INSERT INTO sandbox.refunds (id, charge_id, order_id, amount_cents, idempotency_key)
       VALUES ($1, $2, $3, $4, $5) RETURNING *`,
      [refund.id, refund.chargeId, refund.orderId, refund.amountCents, refund.idempotencyKey],
    );
    return toRefund(firstRow(result.rows));
  }

  /** Record a newly booked label. */
  async insertLabel(tx: Queryable, label: NewLabel): Promise<SandboxLabel> {
    const result = await tx.query<LabelRow>(
      `INSERT INTO sandbox.labels
         (id, carrier, order_id, weight_grams, address, tracking_number, pickup_date, status, idempotency_key)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'BOOKED', $8) RETURNING *`,
      [
        label.labelId,
        label.carrier,
        label.orderId,
        label.weightGrams,
        JSON.stringify(label.address),
        label.trackingNumber,
        label.pickupDate,
        label.idempotencyKey,
      ],
    );
    return toLabel(firstRow(result.rows));
  }

  /** One carrier's label, optionally locked until the transaction ends. */
  async getLabel(
    q: Queryable,
    carrier: SandboxLabel['carrier'],
    labelId: string,
    forUpdate = false,
  ): Promise<SandboxLabel | undefined> {
    const result = await q.query<LabelRow>(
      `SELECT * FROM sandbox.labels WHERE carrier = $1 AND id = $2${forUpdate ? ' FOR UPDATE' : ''}`,
      [carrier, labelId],
    );
    const row = result.rows[0];
    return row && toLabel(row);
  }

  /** One carrier's label, outside any transaction. */
  async findLabel(carrier: SandboxLabel['carrier'], labelId: string): Promise<SandboxLabel | undefined> {
    return this.getLabel(this.pool, carrier, labelId);
  }

  /** Move a label to a new status, stamping the matching timestamp. */
  async setLabelStatus(tx: Queryable, labelId: string, status: 'VOIDED' | 'PICKED_UP'): Promise<SandboxLabel> {
    const column = status === 'VOIDED' ? 'voided_at' : 'picked_up_at';
    const result = await tx.query<LabelRow>(
      `UPDATE sandbox.labels SET status = $2, ${column} = now() WHERE id = $1 RETURNING *`,
      [labelId, status],
    );
    return toLabel(firstRow(result.rows));
  }

  /** Record an accepted message. */
  async insertNotification(tx: Queryable, notification: NewNotification): Promise<SandboxNotification> {
    const result = await tx.query<NotificationRow>(
      `INSERT INTO sandbox.notifications (id, order_id, channel, recipient, subject, body, idempotency_key)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
      [
        notification.id,
        notification.orderId,
        notification.channel,
        notification.to,
        notification.subject,
        notification.body,
        notification.idempotencyKey,
      ],
    );
    return toNotification(firstRow(result.rows));
  }

  /** Every charge of an order, oldest first. */
  async listCharges(orderId: string): Promise<SandboxCharge[]> {
    const result = await this.pool.query<ChargeRow>(
      'SELECT * FROM sandbox.charges WHERE order_id = $1 ORDER BY created_at, id',
      [orderId],
    );
    return result.rows.map(toCharge);
  }

  /** Every refund of an order, oldest first. */
  async listRefunds(orderId: string): Promise<SandboxRefund[]> {
    const result = await this.pool.query<RefundRow>(
      'SELECT * FROM sandbox.refunds WHERE order_id = $1 ORDER BY created_at, id',
      [orderId],
    );
    return result.rows.map(toRefund);
  }

  /** Every label one carrier booked for an order, oldest first. */
  async listLabels(carrier: SandboxLabel['carrier'], orderId: string): Promise<SandboxLabel[]> {
    const result = await this.pool.query<LabelRow>(
      'SELECT * FROM sandbox.labels WHERE carrier = $1 AND order_id = $2 ORDER BY created_at, id',
      [carrier, orderId],
    );
    return result.rows.map(toLabel);
  }

  /** Every message sent about an order, oldest first. */
  async listNotifications(orderId: string): Promise<SandboxNotification[]> {
    const result = await this.pool.query<NotificationRow>(
      'SELECT * FROM sandbox.notifications WHERE order_id = $1 ORDER BY created_at, id',
      [orderId],
    );
    return result.rows.map(toNotification);
  }

  /** Record counts per table. */
  async stats(): Promise<SandboxStats> {
    const result = await this.pool.query<{ charges: number; refunds: number; labels: number; notifications: number }>(
      `SELECT (SELECT count(*) FROM sandbox.charges)::int       AS charges,
              (SELECT count(*) FROM sandbox.refunds)::int       AS refunds,
              (SELECT count(*) FROM sandbox.labels)::int        AS labels,
              (SELECT count(*) FROM sandbox.notifications)::int AS notifications`,
    );
    return firstRow(result.rows);
  }
}

function firstRow<T>(rows: T[]): T {
  const row = rows[0];
  if (row === undefined) throw new Error('Expected a row from the sandbox database');
  return row;
}

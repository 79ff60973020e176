import { Pool, type PoolClient, type PoolConfig } from 'pg';
import type {
  SandboxMessage,
  SandboxPaymentIntent,
  SandboxRefund,
  SandboxShipment,
  SandboxStats,
  ShipmentStatus,
} from './contract';

/**
 * The sandbox's own records, in schema `sandbox` of its database: what the simulated Stripe account, shipping API
 * and mail server hold. Tables are created on start-up (no migrator): the sandbox is a test double whose schema only
 * ever grows by `IF NOT EXISTS` statements. The tables of the sandbox's former private API are dropped.
 */
const SCHEMA_SQL = `
CREATE SCHEMA IF NOT EXISTS sandbox;
DROP TABLE IF EXISTS sandbox.charges, sandbox.refunds, sandbox.labels, sandbox.notifications CASCADE;

CREATE TABLE IF NOT EXISTS sandbox.idempotency_keys (
  scope         text        NOT NULL,
  key           text        NOT NULL,
  request_hash  text        NOT NULL,
  status_code   integer,
  response_body jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, key)
);

CREATE TABLE IF NOT EXISTS sandbox.stripe_payment_intents (
  id              text        PRIMARY KEY,
  order_id        text,
  amount          integer     NOT NULL CHECK (amount > 0),
  currency        text        NOT NULL,
  payment_method  text        NOT NULL,
  status          text        NOT NULL CHECK (status IN ('succeeded', 'requires_payment_method')),
  decline_code    text,
  charge_id       text        NOT NULL,
  idempotency_key text,
  metadata        jsonb       NOT NULL DEFAULT '{}',
  description     text,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS stripe_payment_intents_order_id_idx ON sandbox.stripe_payment_intents (order_id);
CREATE INDEX IF NOT EXISTS stripe_payment_intents_metadata_idx ON sandbox.stripe_payment_intents USING gin (metadata);

CREATE TABLE IF NOT EXISTS sandbox.stripe_refunds (
  id                text        PRIMARY KEY,
  payment_intent_id text        NOT NULL REFERENCES sandbox.stripe_payment_intents (id),
  order_id          text,
  amount            integer     NOT NULL CHECK (amount > 0),
  idempotency_key   text,
  metadata          jsonb       NOT NULL DEFAULT '{}',
  created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS stripe_refunds_payment_intent_idx ON sandbox.stripe_refunds (payment_intent_id);
CREATE INDEX IF NOT EXISTS stripe_refunds_order_id_idx ON sandbox.stripe_refunds (order_id);

CREATE TABLE IF NOT EXISTS sandbox.easypost_shipments (
  id                 text        PRIMARY KEY,
  carrier            text        NOT NULL CHECK (carrier IN ('primary', 'backup')),
  carrier_account_id text        NOT NULL,
  reference          text,
  status             text        NOT NULL CHECK (status IN ('CREATED', 'PURCHASED', 'VOIDED', 'PICKED_UP')),
  to_address         jsonb       NOT NULL,
  from_address       jsonb       NOT NULL,
  weight_ounces      numeric     NOT NULL CHECK (weight_ounces > 0),
  rates              jsonb       NOT NULL,
  messages           jsonb       NOT NULL,
  selected_rate_id   text,
  tracking_code      text        UNIQUE,
  label_date         timestamptz,
  created_at         timestamptz NOT NULL DEFAULT now(),
  purchased_at       timestamptz,
  voided_at          timestamptz,
  picked_up_at       timestamptz
);
CREATE INDEX IF NOT EXISTS easypost_shipments_reference_idx ON sandbox.easypost_shipments (reference, created_at);

CREATE TABLE IF NOT EXISTS sandbox.easypost_pickups (
  id           text        PRIMARY KEY,
  shipment_id  text        NOT NULL REFERENCES sandbox.easypost_shipments (id),
  reference    text,
  status       text        NOT NULL CHECK (status IN ('unknown', 'scheduled', 'canceled')),
  min_datetime timestamptz NOT NULL,
  max_datetime timestamptz NOT NULL,
  confirmation text,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS easypost_pickups_reference_idx ON sandbox.easypost_pickups (reference, created_at);

CREATE TABLE IF NOT EXISTS sandbox.smtp_messages (
  id            text        PRIMARY KEY,
  message_id    text,
  envelope_from text        NOT NULL,
  envelope_to   text[]      NOT NULL,
  subject       text        NOT NULL,
  order_id      text,
  kind          text,
  text_body     text,
  html_body     text,
  attachments   jsonb       NOT NULL DEFAULT '[]',
  size_bytes    integer     NOT NULL,
  received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS smtp_messages_order_idx ON sandbox.smtp_messages (order_id, kind);
CREATE INDEX IF NOT EXISTS smtp_messages_message_id_idx ON sandbox.smtp_messages (message_id);
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

/** A row of `sandbox.stripe_payment_intents`. */
export interface PaymentIntentRow {
  id: string;
  order_id: string | null;
  amount: number;
  currency: string;
  payment_method: string;
  status: SandboxPaymentIntent['status'];
  decline_code: string | null;
  charge_id: string;
  idempotency_key: string | null;
  metadata: Record<string, string>;
  description: string | null;
  created_at: Date;
}

/** A row of `sandbox.stripe_refunds`. */
export interface RefundRow {
  id: string;
  payment_intent_id: string;
  order_id: string | null;
  amount: number;
  idempotency_key: string | null;
  metadata: Record<string, string>;
  created_at: Date;
}

/** One rate a shipment was offered. */
export interface ShipmentRate {
  id: string;
  carrier: string;
  service: string;
  carrierAccountId: string;
  rate: string;
  currency: string;
  deliveryDays: number;
}

/** A row of `sandbox.easypost_shipments`. */
export interface ShipmentRow {
  id: string;
  carrier: SandboxShipment['carrier'];
  carrier_account_id: string;
  reference: string | null;
  status: ShipmentStatus;
  to_address: Record<string, unknown>;
  from_address: Record<string, unknown>;
  weight_ounces: string;
  rates: ShipmentRate[];
  messages: { carrier: string; carrier_account_id: string; type: string; message: string }[];
  selected_rate_id: string | null;
  tracking_code: string | null;
  label_date: Date | null;
  created_at: Date;
  purchased_at: Date | null;
  voided_at: Date | null;
  picked_up_at: Date | null;
}

/** A row of `sandbox.easypost_pickups`. */
export interface PickupRow {
  id: string;
  shipment_id: string;
  reference: string | null;
  status: 'unknown' | 'scheduled' | 'canceled';
  min_datetime: Date;
  max_datetime: Date;
  confirmation: string | null;
  created_at: Date;
}

interface MessageRow {
  id: string;
  message_id: string | null;
  envelope_from: string;
  envelope_to: string[];
  subject: string;
  order_id: string | null;
  kind: string | null;
  text_body: string | null;
  html_body: string | null;
  attachments: SandboxMessage['attachments'];
  size_bytes: number;
  received_at: Date;
}

const toPaymentIntent = (r: PaymentIntentRow): SandboxPaymentIntent => ({
  id: r.id,
  orderId: r.order_id,
  amount: r.amount,
  currency: r.currency,
  paymentMethod: r.payment_method,
  status: r.status,
  declineCode: r.decline_code,
  idempotencyKey: r.idempotency_key,
  metadata: r.metadata,
  createdAt: r.created_at.toISOString(),
});

const toRefund = (r: RefundRow): SandboxRefund => ({
  id: r.id,
  paymentIntentId: r.payment_intent_id,
  orderId: r.order_id,
  amount: r.amount,
  idempotencyKey: r.idempotency_key,
  createdAt: r.created_at.toISOString(),
});

const toShipment = (r: ShipmentRow): SandboxShipment => ({
  id: r.id,
  carrier: r.carrier,
  carrierAccountId: r.carrier_account_id,
  reference: r.reference,
  status: r.status,
  trackingCode: r.tracking_code,
  labelDate: r.label_date?.toISOString() ?? null,
  weightOunces: Number(r.weight_ounces),
  toAddress: r.to_address,
  createdAt: r.created_at.toISOString(),
  purchasedAt: r.purchased_at?.toISOString() ?? null,
  voidedAt: r.voided_at?.toISOString() ?? null,
  pickedUpAt: r.picked_up_at?.toISOString() ?? null,
});

const toMessage = (r: MessageRow): SandboxMessage => ({
  id: r.id,
  messageId: r.message_id,
  envelopeFrom: r.envelope_from,
  envelopeTo: r.envelope_to,
  subject: r.subject,
  orderId: r.order_id,
  kind: r.kind,
  text: r.text_body,
  html: r.html_body,
  attachments: r.attachments,
  receivedAt: r.received_at.toISOString(),
});

/** Fields of a new PaymentIntent; the database stamps `created_at`. */
export interface NewPaymentIntent {
  id: string;
  amount: number;
  currency: string;
  paymentMethod: string;
  status: SandboxPaymentIntent['status'];
  declineCode: string | null;
  chargeId: string;
  idempotencyKey: string | null;
  metadata: Record<string, string>;
  description: string | null;
}

/** Fields of a new refund. */
export interface NewRefund {
  id: string;
  paymentIntentId: string;
  amount: number;
  idempotencyKey: string | null;
  metadata: Record<string, string>;
}

/** Fields of a new shipment. */
export interface NewShipment {
  id: string;
  carrier: SandboxShipment['carrier'];
  carrierAccountId: string;
  reference: string | null;
  toAddress: Record<string, unknown>;
  fromAddress: Record<string, unknown>;
  weightOunces: number;
  rates: ShipmentRate[];
  messages: ShipmentRow['messages'];
  labelDate: Date | null;
}

/** Fields of a new pickup. */
export interface NewPickup {
  id: string;
  shipmentId: string;
  reference: string | null;
  minDatetime: Date;
  maxDatetime: Date;
}

/** Fields of a new message. */
export type NewMessage = Omit<SandboxMessage, 'receivedAt'> & { sizeBytes: number };

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

  /** Record a PaymentIntent (succeeded or declined). */
  async insertPaymentIntent(tx: Queryable, intent: NewPaymentIntent): Promise<PaymentIntentRow> {
    const result = await tx.query<PaymentIntentRow>(
      `INSERT INTO sandbox.stripe_payment_intents (id, order_id, amount, currency, payment_method, status, decline_code,
         charge_id, idempotency_key, metadata, description)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`,
      [
        intent.id,
        intent.metadata.orderId ?? null,
        intent.amount,
        intent.currency,
        intent.paymentMethod,
        intent.status,
        intent.declineCode,
        intent.chargeId,
        intent.idempotencyKey,
        JSON.stringify(intent.metadata),
        intent.description,
      ],
    );
    return firstRow(result.rows);
  }

  /** One PaymentIntent, optionally locked until the transaction ends (so refunds against it are serialised). */
  async getPaymentIntent(q: Queryable, id: string, forUpdate = false): Promise<PaymentIntentRow | undefined> {
    const result = await q.query<PaymentIntentRow>(
      `SELECT * FROM sandbox.stripe_payment_intents WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
      [id],
    );
    return result.rows[0];
  }

  /** One PaymentIntent, outside any transaction. */
  findPaymentIntent(id: string): Promise<PaymentIntentRow | undefined> {
    return this.getPaymentIntent(this.pool, id);
  }

  /** One shipment by ID or reference, outside any transaction. */
  lookupShipment(idOrReference: string): Promise<ShipmentRow | undefined> {
    return this.findShipment(this.pool, idOrReference);
  }

  /** One pickup by ID or reference, outside any transaction. */
  lookupPickup(idOrReference: string): Promise<PickupRow | undefined> {
    return this.findPickup(this.pool, idOrReference);
  }

  /** PaymentIntents whose metadata contains every given pair (and whose status matches, if given), newest first. */
  async searchPaymentIntents(
    metadata: Record<string, string>,
    status: string | undefined,
    limit: number,
  ): Promise<PaymentIntentRow[]> {
    const result = await this.pool.query<PaymentIntentRow>(
      `SELECT * FROM sandbox.stripe_payment_intents WHERE metadata @> $1::jsonb AND ($2::text IS NULL OR status = $2)
       ORDER BY created_at DESC, id DESC LIMIT $3`,
      [JSON.stringify(metadata), status ?? null, limit],
    );
    return result.rows;
  }

  /** Sum of every refund against a PaymentIntent. */
  async refundedAmount(tx: Queryable, paymentIntentId: string): Promise<number> {
    const result = await tx.query<{ total: string }>(
      'SELECT coalesce(sum(amount), 0)::text AS total FROM sandbox.stripe_refunds WHERE payment_intent_id = $1',
      [paymentIntentId],
    );
    return Number(firstRow(result.rows).total);
  }

  /** Record a refund. */
  async insertRefund(tx: Queryable, refund: NewRefund): Promise<RefundRow> {
    const result = await tx.query<RefundRow>(
      `INSERT INTO sandbox.stripe_refunds (id, payment_intent_id, order_id, amount, idempotency_key, metadata)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
      [
        refund.id,
        refund.paymentIntentId,
        refund.metadata.orderId ?? null,
        refund.amount,
        refund.idempotencyKey,
        JSON.stringify(refund.metadata),
      ],
    );
    return firstRow(result.rows);
  }

  /** Record a new shipment (rated, not yet bought). */
  async insertShipment(tx: Queryable, shipment: NewShipment): Promise<ShipmentRow> {
    const result = await tx.query<ShipmentRow>(
      `INSERT INTO sandbox.easypost_shipments (id, carrier, carrier_account_id, reference, status, to_address,
         from_address, weight_ounces, rates, messages, label_date)
       VALUES ($1, $2, $3, $4, 'CREATED', $5, $6, $7, $8, $9, $10) RETURNING *`,
      [
        shipment.id,
        shipment.carrier,
        shipment.carrierAccountId,
        shipment.reference,
        JSON.stringify(shipment.toAddress),
        JSON.stringify(shipment.fromAddress),
        shipment.weightOunces,
        JSON.stringify(shipment.rates),
        JSON.stringify(shipment.messages),
        shipment.labelDate,
      ],
    );
    return firstRow(result.rows);
  }

  /**
   * A shipment by ID, or else the newest one with that reference (EasyPost looks shipments up either way),
   * optionally locked until the transaction ends.
   */
  async findShipment(q: Queryable, idOrReference: string, forUpdate = false): Promise<ShipmentRow | undefined> {
    const lock = forUpdate ? ' FOR UPDATE' : '';
    const byId = await q.query<ShipmentRow>(`SELECT * FROM sandbox.easypost_shipments WHERE id = $1${lock}`, [
      idOrReference,
    ]);
    if (byId.rows[0]) return byId.rows[0];
    const byReference = await q.query<ShipmentRow>(
      `SELECT * FROM sandbox.easypost_shipments WHERE reference = $1 ORDER BY created_at DESC, id DESC LIMIT 1${lock}`,
      [idOrReference],
    );
    return byReference.rows[0];
  }

  /** Buy a shipment's label with one of its rates. */
  async purchaseShipment(tx: Queryable, id: string, rateId: string, trackingCode: string): Promise<ShipmentRow> {
    const result = await tx.query<ShipmentRow>(
      `UPDATE sandbox.easypost_shipments SET status = 'PURCHASED', selected_rate_id = $2, tracking_code = $3,
         purchased_at = now(), label_date = coalesce(label_date, now())
       WHERE id = $1 RETURNING *`,
      [id, rateId, trackingCode],
    );
    return firstRow(result.rows);
  }

  /** Move a bought shipment on: its label refunded (voided) or its parcel collected. */
  async setShipmentStatus(tx: Queryable, id: string, status: Extract<ShipmentStatus, 'VOIDED' | 'PICKED_UP'>) {
    const column = status === 'VOIDED' ? 'voided_at' : 'picked_up_at';
    const result = await tx.query<ShipmentRow>(
      `UPDATE sandbox.easypost_shipments SET status = $2, ${column} = now() WHERE id = $1 RETURNING *`,
      [id, status],
    );
    return firstRow(result.rows);
  }

  /** Record a pickup request for a shipment. */
  async insertPickup(tx: Queryable, pickup: NewPickup): Promise<PickupRow> {
    const result = await tx.query<PickupRow>(
      `INSERT INTO sandbox.easypost_pickups (id, shipment_id, reference, status, min_datetime, max_datetime)
       VALUES ($1, $2, $3, 'unknown', $4, $5) RETURNING *`,
      [pickup.id, pickup.shipmentId, pickup.reference, pickup.minDatetime, pickup.maxDatetime],
    );
    return firstRow(result.rows);
  }

  /** A pickup by ID, or else the newest one with that reference, optionally locked. */
  async findPickup(q: Queryable, idOrReference: string, forUpdate = false): Promise<PickupRow | undefined> {
    const lock = forUpdate ? ' FOR UPDATE' : '';
    const byId = await q.query<PickupRow>(`SELECT * FROM sandbox.easypost_pickups WHERE id = $1${lock}`, [
      idOrReference,
    ]);
    if (byId.rows[0]) return byId.rows[0];
    const byReference = await q.query<PickupRow>(
      `SELECT * FROM sandbox.easypost_pickups WHERE reference = $1 ORDER BY created_at DESC, id DESC LIMIT 1${lock}`,
      [idOrReference],
    );
    return byReference.rows[0];
  }

  /** Confirm a pickup with the carrier. */
  async schedulePickup(tx: Queryable, id: string, confirmation: string): Promise<PickupRow> {
    const result = await tx.query<PickupRow>(
      `UPDATE sandbox.easypost_pickups SET status = 'scheduled', confirmation = $2 WHERE id = $1 RETURNING *`,
      [id, confirmation],
    );
    return firstRow(result.rows);
  }

  /** Record a message the SMTP listener accepted. */
  async insertMessage(message: NewMessage): Promise<SandboxMessage> {
    const result = await this.pool.query<MessageRow>(
      `INSERT INTO sandbox.smtp_messages (id, message_id, envelope_from, envelope_to, subject, order_id, kind,
         text_body, html_body, attachments, size_bytes)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`,
      [
        message.id,
        message.messageId,
        message.envelopeFrom,
        message.envelopeTo,
        message.subject,
        message.orderId,
        message.kind,
        message.text,
        message.html,
        JSON.stringify(message.attachments),
        message.sizeBytes,
      ],
    );
    return toMessage(firstRow(result.rows));
  }

  /** Every PaymentIntent of an order (by `metadata.orderId`), oldest first. */
  async listPaymentIntents(orderId: string): Promise<SandboxPaymentIntent[]> {
    const result = await this.pool.query<PaymentIntentRow>(
      'SELECT * FROM sandbox.stripe_payment_intents WHERE order_id = $1 ORDER BY created_at, id',
      [orderId],
    );
    return result.rows.map(toPaymentIntent);
  }

  /** Every refund of an order (by `metadata.orderId` of the refund), oldest first. */
  async listRefunds(orderId: string): Promise<SandboxRefund[]> {
    const result = await this.pool.query<RefundRow>(
      'SELECT * FROM sandbox.stripe_refunds WHERE order_id = $1 ORDER BY created_at, id',
      [orderId],
    );
    return result.rows.map(toRefund);
  }

  /** Every shipment with a reference, oldest first. */
  async listShipments(reference: string): Promise<SandboxShipment[]> {
    const result = await this.pool.query<ShipmentRow>(
      'SELECT * FROM sandbox.easypost_shipments WHERE reference = $1 ORDER BY created_at, id',
      [reference],
    );
    return result.rows.map(toShipment);
  }

  /** Messages received, oldest first: those about one order (and kind), or to one recipient, or the latest 100. */
  async listMessages(filter: { orderId?: string; kind?: string; to?: string }): Promise<SandboxMessage[]> {
    const result = await this.pool.query<MessageRow>(
      `SELECT * FROM (
         SELECT * FROM sandbox.smtp_messages
         WHERE ($1::text IS NULL OR order_id = $1) AND ($2::text IS NULL OR kind = $2)
           AND ($3::text IS NULL OR $3 = ANY (envelope_to))
         ORDER BY received_at DESC, id DESC LIMIT 100) latest
       ORDER BY received_at, id`,
      [filter.orderId ?? null, filter.kind ?? null, filter.to ?? null],
    );
    return result.rows.map(toMessage);
  }

  /** One received message. */
  async getMessage(id: string): Promise<SandboxMessage | undefined> {
    const result = await this.pool.query<MessageRow>('SELECT * FROM sandbox.smtp_messages WHERE id = $1', [id]);
    const row = result.rows[0];
    return row && toMessage(row);
  }

  /** Record counts per table. */
  async stats(): Promise<SandboxStats> {
    const result = await this.pool.query<SandboxStats>(
      `SELECT (SELECT count(*) FROM sandbox.stripe_payment_intents)::int AS "paymentIntents",
              (SELECT count(*) FROM sandbox.stripe_refunds)::int         AS refunds,
              (SELECT count(*) FROM sandbox.easypost_shipments)::int     AS shipments,
              (SELECT count(*) FROM sandbox.easypost_pickups)::int       AS pickups,
              (SELECT count(*) FROM sandbox.smtp_messages)::int          AS messages`,
    );
    return firstRow(result.rows);
  }
}

function firstRow<T>(rows: T[]): T {
  const row = rows[0];
  if (row === undefined) throw new Error('Expected a row from the sandbox database');
  return row;
}

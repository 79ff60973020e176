import fs from 'node:fs';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../support/db';

/**
 * prisma/schema.prisma (what the Prisma client believes) and prisma/migrations (what the database really
 * gets) are both written by hand, because the migrations are applied by our own migrator rather than by
 * Prisma's schema engine (see src/db/migrate.ts). `prisma migrate diff` would catch drift between them, but
 * it needs that engine binary, which offline machines lack. This test does the same comparison for what the
 * schema uses: it applies the migrations to a fresh database, reads the catalog, parses schema.prisma, and
 * compares tables, columns (type, nullability), primary keys, unique constraints and indexes both ways,
 * including the constraint names Prisma would derive, since `migrate diff` reports a renamed index as drift.
 *
 * Out of scope: defaults, foreign keys, check constraints and triggers (the latter two Prisma cannot express).
 */

const SCHEMA_PATH = path.resolve(__dirname, '..', '..', 'prisma', 'schema.prisma');

/**
 * Indexes the migrations create that schema.prisma cannot express, each with its reason. Exactly these may
 * exist on the database side alone; an entry that matches no index is reported as stale.
 */
const DB_ONLY_INDEXES: Readonly<Record<string, string>> = {
  shipments_one_active_per_order:
    'partial unique index on shipments(order_id) WHERE status <> VOIDED: at most one active label per order. ' +
    'Prisma has no partial indexes, so the client simply does not know about it.',
};

interface ColumnShape {
  /** Spelled like information_schema with precision folded in, e.g. `timestamp(3) with time zone`. */
  type: string;
  nullable: boolean;
  /** `Model.field` when the column comes from schema.prisma, for readable diffs. */
  origin?: string;
}

interface IndexShape {
  columns: string[];
  unique: boolean;
  /** WHERE clause of a partial index: Prisma cannot express one. */
  predicate?: string;
  /** Some key is an expression (shown in `columns` as pg prints it): Prisma cannot express one either. */
  expressions?: true;
}

interface TableShape {
  columns: Map<string, ColumnShape>;
  primaryKey?: { name: string; columns: string[] };
  /** By index name (PostgreSQL index names are unique per schema). Excludes the primary key. */
  indexes: Map<string, IndexShape>;
  /** The model mapped to this table, when it comes from schema.prisma. */
  model?: string;
}

/** Table name -> shape. */
type DatabaseShape = Map<string, TableShape>;

// ---------------------------------------------------------------------------------------------
// schema.prisma -> DatabaseShape

/** Prisma scalar types without `@db.*` and the PostgreSQL type Prisma creates for them. */
const SCALAR_TYPES: Record<string, string> = {
  String: 'text',
  Int: 'integer',
  BigInt: 'bigint',
  Float: 'double precision',
  Decimal: 'numeric(65,30)',
  Boolean: 'boolean',
  DateTime: 'timestamp(3) without time zone',
  Json: 'jsonb',
  Bytes: 'bytea',
};

/** `@db.*` native types; the argument list is what follows the name, e.g. `(3)`. */
const NATIVE_TYPES: Record<string, (args: string[]) => string> = {
  Text: () => 'text',
  VarChar: ([n]) => (n ? `character varying(${n})` : 'character varying'),
  Char: ([n]) => `character(${n ?? 1})`,
  Uuid: () => 'uuid',
  Integer: () => 'integer',
  SmallInt: () => 'smallint',
  BigInt: () => 'bigint',
  Real: () => 'real',
  DoublePrecision: () => 'double precision',
  Decimal: ([p, s]) => (p ? `numeric(${p},${s ?? 0})` : 'numeric'),
  Boolean: () => 'boolean',
  Date: () => 'date',
  Timestamp: ([p]) => `timestamp(${p ?? 6}) without time zone`,
  Timestamptz: ([p]) => `timestamp(${p ?? 6}) with time zone`,
  Time: ([p]) => `time(${p ?? 6}) without time zone`,
  Timetz: ([p]) => `time(${p ?? 6}) with time zone`,
  Json: () => 'json',
  JsonB: () => 'jsonb',
  ByteA: () => 'bytea',
};

/** Drop `//` and `///` comments, leaving `//` inside string literals alone. */
function stripComments(text: string): string {
  return text
    .split(/\r?\n/)
    .map((line) => {
      let inString = false;
      for (let i = 0; i < line.length; i += 1) {
        const char = line[i];
        if (char === '"' && line[i - 1] !== '\\') inString = !inString;
        else if (!inString && char === '/' && line[i + 1] === '/') return line.slice(0, i);
      }
      return line;
    })
    .join('\n');
}

/** Split on commas outside parentheses/brackets/strings: `a, b(sort: Desc, length: 3)` -> two items. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let inString = false;
  let current = '';
  for (const char of text) {
    if (char === '"') inString = !inString;
    if (!inString && (char === '(' || char === '[')) depth += 1;
    if (!inString && (char === ')' || char === ']')) depth -= 1;
    if (!inString && depth === 0 && char === ',') {
      parts.push(current.trim());
      current = '';
    } else current += char;
  }
  if (current.trim()) parts.push(current.trim());
  return parts;
}

/** Field names of the first `[...]` in a block attribute, without per-field options like `(sort: Desc)`. */
function fieldList(args: string): string[] {
  const list = /\[([^\]]*)\]/.exec(args)?.[1] ?? '';
  return splitTopLevel(list).map((item) => item.replace(/\(.*\)$/, '').trim());
}

/** `map: "name"` given to @id/@unique/@@id/@@unique/@@index, outside the field list. */
function mapArgument(args: string | undefined): string | undefined {
  return args === undefined ? undefined : /\bmap:\s*"([^"]*)"/.exec(args.replace(/\[[^\]]*\]/, ''))?.[1];
}

function parsePrismaSchema(text: string): DatabaseShape {
  const source = stripComments(text);
  const blocks = [...source.matchAll(/^\s*(model|enum|view|type)\s+(\w+)\s*\{([\s\S]*?)^\s*\}\s*$/gm)].map((m) => ({
    kind: m[1] ?? '',
    name: m[2] ?? '',
    body: m[3] ?? '',
  }));
  const modelNames = new Set(blocks.filter((b) => b.kind === 'model' || b.kind === 'view').map((b) => b.name));
  const enums = new Map(
    blocks
      .filter((b) => b.kind === 'enum')
      .map((b) => [b.name, /@@map\(\s*"([^"]*)"/.exec(b.body)?.[1] ?? b.name] as const),
  );

  const shape: DatabaseShape = new Map();
  for (const model of blocks.filter((b) => b.kind === 'model')) {
    const lines = model.body
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean);
    const blockAttributes = lines
      .filter((line) => line.startsWith('@@'))
      .map((line) => /^@@(\w+)\((.*)\)\s*$/.exec(line) ?? /^@@(\w+)()$/.exec(line))
      .map((m) => ({ kind: m?.[1] ?? '', args: m?.[2] ?? '' }));
    const table =
      /^(?:name:\s*)?"([^"]*)"/.exec(blockAttributes.find((a) => a.kind === 'map')?.args ?? '')?.[1] ?? model.name;

    const columnOf = new Map<string, string>(); // field -> column
    const columns = new Map<string, ColumnShape>();
    const indexes = new Map<string, IndexShape>();
    let primaryKey: TableShape['primaryKey'];

    for (const line of lines.filter((l) => !l.startsWith('@@'))) {
      const field = /^(\w+)\s+(\w+)(\[\])?(\?)?\s*(.*)$/.exec(line);
      if (!field) throw new Error(`schema.prisma model ${model.name}: cannot parse field line "${line}"`);
      const [, name = '', type = '', list, optional, attributes = ''] = field;
      if (modelNames.has(type)) continue; // relation field: no column of its own
      if (list) throw new Error(`${model.name}.${name}: scalar lists are not supported by this comparison yet`);

      const column = /@map\(\s*(?:name:\s*)?"([^"]*)"/.exec(attributes)?.[1] ?? name;
      columnOf.set(name, column);

      const native = /@db\.(\w+)(?:\(([^)]*)\))?/.exec(attributes);
      let sqlType: string | undefined;
      if (native) {
        const describe = NATIVE_TYPES[native[1] ?? ''];
        if (!describe) throw new Error(`${model.name}.${name}: add @db.${native[1]} to NATIVE_TYPES`);
        sqlType = describe(splitTopLevel(native[2] ?? ''));
      } else if (enums.has(type)) sqlType = `enum ${enums.get(type)}`;
      else sqlType = SCALAR_TYPES[type];
      if (!sqlType) throw new Error(`${model.name}.${name}: add Prisma type ${type} to SCALAR_TYPES`);
      columns.set(column, { type: sqlType, nullable: optional === '?', origin: `${model.name}.${name}` });

      const id = /@id\b(?:\(([^)]*)\))?/.exec(attributes);
      if (id) primaryKey = { name: mapArgument(id[1]) ?? `${table}_pkey`, columns: [column] };
      const unique = /@unique\b(?:\(([^)]*)\))?/.exec(attributes);
      if (unique) indexes.set(mapArgument(unique[1]) ?? `${table}_${column}_key`, { columns: [column], unique: true });
    }

    const toColumns = (fields: string[]): string[] =>
      fields.map((f) => {
        const column = columnOf.get(f);
        if (!column) throw new Error(`${model.name}: block attribute names unknown field ${f}`);
        return column;
      });
    for (const { kind, args } of blockAttributes) {
      if (kind === 'id') {
        const cols = toColumns(fieldList(args));
        primaryKey = { name: mapArgument(args) ?? `${table}_pkey`, columns: cols };
      } else if (kind === 'unique' || kind === 'index') {
        const cols = toColumns(fieldList(args));
        const suffix = kind === 'unique' ? 'key' : 'idx';
        indexes.set(mapArgument(args) ?? `${table}_${cols.join('_')}_${suffix}`, {
          columns: cols,
          unique: kind === 'unique',
        });
      } else if (kind !== 'map') {
        throw new Error(`${model.name}: block attribute @@${kind} is not supported by this comparison yet`);
      }
    }
    shape.set(table, { columns, primaryKey, indexes, model: model.name });
  }
  return shape;
}

// ---------------------------------------------------------------------------------------------
// database catalog -> DatabaseShape

interface ColumnRow {
  table_name: string;
  column_name: string;
  data_type: string;
  is_nullable: 'YES' | 'NO';
  udt_name: string;
  character_maximum_length: number | null;
  numeric_precision: number | null;
  numeric_scale: number | null;
  datetime_precision: number | null;
}

interface IndexRow {
  table_name: string;
  index_name: string;
  is_primary: boolean;
  is_unique: boolean;
  predicate: string | null;
  has_expressions: boolean;
  columns: string[];
}

/** information_schema's spelling, with precision/length folded in so `TIMESTAMPTZ` vs `TIMESTAMPTZ(3)` differ. */
function describeColumnType(row: Omit<ColumnRow, 'table_name' | 'column_name' | 'is_nullable'>): string {
  const { data_type: type } = row;
  if (/^(timestamp|time) with(out)? time zone$/.test(type)) {
    return type.replace(/^(timestamp|time)/, `$1(${row.datetime_precision ?? 6})`);
  }
  if (type === 'character varying' || type === 'character') {
    return row.character_maximum_length === null ? type : `${type}(${row.character_maximum_length})`;
  }
  if (type === 'numeric')
    return row.numeric_precision === null ? type : `numeric(${row.numeric_precision},${row.numeric_scale ?? 0})`;
  if (type === 'USER-DEFINED') return `enum ${row.udt_name}`;
  return type;
}

async function readDatabaseShape(query: TestDatabase['query']): Promise<DatabaseShape> {
  const columns = await query<ColumnRow & Record<string, unknown>>(
    `SELECT c.table_name, c.column_name, c.data_type, c.is_nullable, c.udt_name, c.character_maximum_length,
            c.numeric_precision, c.numeric_scale, c.datetime_precision
       FROM information_schema.columns c
       JOIN information_schema.tables t
         ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
      WHERE c.table_schema = 'public' AND c.table_name <> '_prisma_migrations'
      ORDER BY c.table_name, c.ordinal_position`,
  );
  const indexes = await query<IndexRow & Record<string, unknown>>(
    `SELECT tbl.relname AS table_name, idx.relname AS index_name, i.indisprimary AS is_primary,
            i.indisunique AS is_unique, pg_get_expr(i.indpred, i.indrelid) AS predicate,
            i.indexprs IS NOT NULL AS has_expressions,
            ARRAY(SELECT CASE WHEN k.attnum = 0 THEN pg_get_indexdef(i.indexrelid, k.ord::int, true)
                                ELSE a.attname::text END
                    FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                    LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                   WHERE k.ord <= i.indnkeyatts
                   ORDER BY k.ord) AS columns
       FROM pg_index i
       JOIN pg_class tbl ON tbl.oid = i.indrelid
       JOIN pg_class idx ON idx.oid = i.indexrelid
       JOIN pg_namespace ns ON ns.oid = tbl.relnamespace
      WHERE ns.nspname = 'public' AND tbl.relname <> '_prisma_migrations'`,
  );

  const shape: DatabaseShape = new Map();
  const tableOf = (name: string): TableShape => {
    let table = shape.get(name);
    if (!table) shape.set(name, (table = { columns: new Map(), indexes: new Map() }));
    return table;
  };
  for (const row of columns) {
    tableOf(row.table_name).columns.set(row.column_name, {
      type: describeColumnType(row),
      nullable: row.is_nullable === 'YES',
    });
  }
  for (const row of indexes) {
    const table = tableOf(row.table_name);
    if (row.is_primary) table.primaryKey = { name: row.index_name, columns: row.columns };
    else {
      table.indexes.set(row.index_name, {
        columns: row.columns,
        unique: row.is_unique,
        ...(row.predicate ? { predicate: row.predicate } : {}),
        ...(row.has_expressions ? { expressions: true as const } : {}),
      });
    }
  }
  return shape;
}

// ---------------------------------------------------------------------------------------------
// comparison

const describeIndex = (index: IndexShape): string =>
  `${index.unique ? 'UNIQUE ' : ''}(${index.columns.join(', ')})${index.predicate ? ` WHERE ${index.predicate}` : ''}`;
const describeKey = (key: TableShape['primaryKey']): string =>
  key ? `${key.name} (${key.columns.join(', ')})` : 'none';
const nullability = (column: ColumnShape): string => (column.nullable ? 'NULL' : 'NOT NULL');

/**
 * Every difference between what schema.prisma declares and what the migrations create, one readable line
 * each; empty when they agree. `dbOnlyIndexes` names the indexes allowed to exist on the database side only.
 */
function compareShapes(
  prisma: DatabaseShape,
  database: DatabaseShape,
  dbOnlyIndexes: Readonly<Record<string, string>> = DB_ONLY_INDEXES,
): string[] {
  const drift: string[] = [];
  const allowanceUsed = new Set<string>();

  for (const [name, expected] of prisma) {
    const actual = database.get(name);
    if (!actual) {
      drift.push(`table ${name}: in schema.prisma (model ${expected.model}) but no migration creates it`);
      continue;
    }
    for (const [column, want] of expected.columns) {
      const got = actual.columns.get(column);
      if (!got) drift.push(`${name}.${column}: in schema.prisma (${want.origin}) but missing from the migrations`);
      else {
        if (got.type !== want.type)
          drift.push(
            `${name}.${column}: type differs: schema.prisma (${want.origin}) says ${want.type}, the migrations say ${got.type}`,
          );
        if (got.nullable !== want.nullable)
          drift.push(
            `${name}.${column}: nullability differs: schema.prisma (${want.origin}) says ${nullability(want)}, ` +
              `the migrations say ${nullability(got)}`,
          );
      }
    }
    for (const column of actual.columns.keys()) {
      if (!expected.columns.has(column))
        drift.push(`${name}.${column}: in the migrations but missing from schema.prisma (model ${expected.model})`);
    }
    if (describeKey(expected.primaryKey) !== describeKey(actual.primaryKey))
      drift.push(
        `table ${name}: primary key differs: schema.prisma says ${describeKey(expected.primaryKey)}, ` +
          `the migrations say ${describeKey(actual.primaryKey)}`,
      );
    for (const [index, want] of expected.indexes) {
      const got = actual.indexes.get(index);
      if (!got)
        drift.push(
          `table ${name}: index ${index} ${describeIndex(want)} is in schema.prisma but not in the migrations`,
        );
      else if (describeIndex(got) !== describeIndex(want))
        drift.push(
          `table ${name}: index ${index} differs: schema.prisma says ${describeIndex(want)}, the migrations say ${describeIndex(got)}`,
        );
    }
    for (const [index, got] of actual.indexes) {
      if (expected.indexes.has(index)) continue;
      // The allowance covers only what Prisma cannot express; a plain index under that name must be declared.
      if (index in dbOnlyIndexes && (got.predicate || got.expressions)) allowanceUsed.add(index);
      else if (got.predicate || got.expressions)
        drift.push(
          `table ${name}: index ${index} ${describeIndex(got)} exists only in the migrations; Prisma cannot express ` +
            'a partial or expression index, so add it to DB_ONLY_INDEXES with the reason',
        );
      else
        drift.push(`table ${name}: index ${index} ${describeIndex(got)} is in the migrations but not in schema.prisma`);
    }
  }
  for (const name of database.keys()) {
    if (!prisma.has(name))
      drift.push(`table ${name}: created by the migrations but no model in schema.prisma maps to it`);
  }
  for (const index of Object.keys(dbOnlyIndexes)) {
    if (!allowanceUsed.has(index))
      drift.push(`DB_ONLY_INDEXES: ${index} matches no migration-only index; remove the entry`);
  }
  return drift;
}

// ---------------------------------------------------------------------------------------------

describe('schema drift comparison (pure)', () => {
  const prismaShape = () => parsePrismaSchema(fs.readFileSync(SCHEMA_PATH, 'utf8'));

  it('when a small schema is parsed, then relations are skipped and @map, @@map, ?, @@id, @unique and @@index are honoured', () => {
    const shape = parsePrismaSchema(`
      /// An author; "// not a comment" stays inside strings.
      model Author {
        id    String  @id
        email String  @unique @map("email_address") // trailing comment
        bio   String?
        posts Post[]

        @@map("authors")
      }

      model Post {
        authorId  String   @map("author_id")
        slug      String
        postedAt  DateTime @default(now()) @map("posted_at") @db.Timestamptz(3)
        meta      Json?
        author    Author   @relation(fields: [authorId], references: [id])

        @@id([authorId, slug])
        @@index([slug(sort: Desc)], map: "posts_by_slug")
        @@map("posts")
      }
    `);
    expect(shape).toEqual(
      new Map([
        [
          'authors',
          {
            model: 'Author',
            primaryKey: { name: 'authors_pkey', columns: ['id'] },
            columns: new Map([
              ['id', { type: 'text', nullable: false, origin: 'Author.id' }],
              ['email_address', { type: 'text', nullable: false, origin: 'Author.email' }],
              ['bio', { type: 'text', nullable: true, origin: 'Author.bio' }],
            ]),
            indexes: new Map([['authors_email_address_key', { columns: ['email_address'], unique: true }]]),
          },
        ],
        [
          'posts',
          {
            model: 'Post',
            primaryKey: { name: 'posts_pkey', columns: ['author_id', 'slug'] },
            columns: new Map([
              ['author_id', { type: 'text', nullable: false, origin: 'Post.authorId' }],
              ['slug', { type: 'text', nullable: false, origin: 'Post.slug' }],
              ['posted_at', { type: 'timestamp(3) with time zone', nullable: false, origin: 'Post.postedAt' }],
              ['meta', { type: 'jsonb', nullable: true, origin: 'Post.meta' }],
            ]),
            indexes: new Map([['posts_by_slug', { columns: ['slug'], unique: false }]]),
          },
        ],
      ]),
    );
  });

  it('when a migration lacks a column that schema.prisma declares, then exactly that column is reported', () => {
    const prisma = prismaShape();
    const database = structuredClone(prisma);
    database.get('orders')?.columns.delete('outcome_reason');
    // The real schema has no partial index, so give the allowance the index it expects.
    database.get('shipments')?.indexes.set('shipments_one_active_per_order', {
      columns: ['order_id'],
      unique: true,
      predicate: "(status <> 'VOIDED'::text)",
    });
    expect(compareShapes(prisma, database)).toEqual([
      'orders.outcome_reason: in schema.prisma (Order.outcomeReason) but missing from the migrations',
    ]);
  });

  it('when types, nullability, keys, tables or indexes disagree, then each difference gets its own line', () => {
    const prisma = prismaShape();
    const database = structuredClone(prisma);
    const orders = database.get('orders');
    orders?.columns.set('charged_cents', { type: 'bigint', nullable: false });
    orders?.columns.set('legacy_flag', { type: 'boolean', nullable: true });
    const lines = database.get('order_lines');
    if (lines) lines.primaryKey = { name: 'order_lines_pkey', columns: ['sku', 'order_id'] };
    database.get('customers')?.indexes.delete('customers_email_key');
    database
      .get('shipments')
      ?.indexes.set('shipments_open_idx', { columns: ['order_id'], unique: false, predicate: 'x' });
    database.set('audit_log', { columns: new Map(), indexes: new Map() });
    database.delete('refunds');

    expect(compareShapes(prisma, database, {}).sort()).toEqual(
      [
        'orders.charged_cents: type differs: schema.prisma (Order.chargedCents) says integer, the migrations say bigint',
        'orders.charged_cents: nullability differs: schema.prisma (Order.chargedCents) says NULL, the migrations say NOT NULL',
        'orders.legacy_flag: in the migrations but missing from schema.prisma (model Order)',
        'table order_lines: primary key differs: schema.prisma says order_lines_pkey (order_id, sku), the migrations say order_lines_pkey (sku, order_id)',
        'table customers: index customers_email_key UNIQUE (email) is in schema.prisma but not in the migrations',
        'table shipments: index shipments_open_idx (order_id) WHERE x exists only in the migrations; Prisma cannot express a partial or expression index, so add it to DB_ONLY_INDEXES with the reason',
        'table audit_log: created by the migrations but no model in schema.prisma maps to it',
        'table refunds: in schema.prisma (model Refund) but no migration creates it',
      ].sort(),
    );
  });

  it('when an allowed database-only index no longer exists, then the stale allowance is reported', () => {
    const prisma = prismaShape();
    expect(compareShapes(prisma, structuredClone(prisma))).toEqual([
      'DB_ONLY_INDEXES: shipments_one_active_per_order matches no migration-only index; remove the entry',
    ]);
  });
});

describe('schema.prisma vs prisma/migrations', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(); // applies every migration with src/db/migrate.ts
  });
  afterAll(() => t.drop());

  it('when the migrations are applied to a fresh database, then they create exactly the tables, columns, keys and indexes schema.prisma declares', async () => {
    const prisma = parsePrismaSchema(fs.readFileSync(SCHEMA_PATH, 'utf8'));
    const database = await readDatabaseShape(t.query);
    expect(database.size).toBeGreaterThan(0); // guard against comparing two empty shapes
    expect(compareShapes(prisma, database)).toEqual([]);
  });
});

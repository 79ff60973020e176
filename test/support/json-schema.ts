import fc from 'fast-check';

/**
 * A small, strict JSON Schema 2020-12 toolkit for the keywords /openapi.json uses: a validator, a
 * generator of valid values and a generator of invalid ones. It is written from the JSON Schema
 * specification, not from our zod schemas, so that a test built on it checks the document against
 * the API rather than the API against itself. A keyword it does not know is an error, never ignored:
 * a document that starts using one must teach this file first.
 *
 * `format` is an annotation in 2020-12 (it asserts nothing), so the generators ignore it: a
 * format the API enforces must also be stated by a `pattern`.
 */
export type Schema = { [keyword: string]: unknown };

const ANNOTATIONS = ['description', 'title', 'default', 'examples', 'format', 'deprecated', 'readOnly', 'writeOnly'];
const ASSERTIONS = [
  'type',
  'enum',
  'const',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'minItems',
  'maxItems',
  'uniqueItems',
  'items',
  'properties',
  'required',
  'additionalProperties',
  'propertyNames',
  'anyOf',
  '$ref',
];
const KNOWN = new Set([...ANNOTATIONS, ...ASSERTIONS]);

function checkKeywords(schema: Schema, at: string): void {
  for (const keyword of Object.keys(schema)) {
    if (!KNOWN.has(keyword)) throw new Error(`json-schema: keyword ${keyword} (at ${at}) is not supported`);
  }
}

/** JSON with object keys sorted: equal JSON values (as `uniqueItems` and `enum` compare) give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** String length as JSON Schema counts it: code points. */
function length(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function hasType(value: unknown, type: string): boolean {
  if (type === 'integer') return typeof value === 'number' && Number.isInteger(value);
  if (type === 'number') return typeof value === 'number' && Number.isFinite(value);
  return jsonType(value) === type;
}

const compiled = new Map<string, RegExp>();
/** `pattern` as JSON Schema reads it: ECMA-262 with the `u` flag, unanchored. */
function regex(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (!re) compiled.set(pattern, (re = new RegExp(pattern, 'u')));
  return re;
}

/**
 * Arbitraries are built once per schema (and option): building them, a regex generator above all,
 * costs far more than drawing from them.
 */
function memo<A>(build: (schema: Schema) => A): (schema: Schema) => A {
  const cache = new WeakMap<Schema, A>();
  return (schema) => {
    let made = cache.get(schema);
    if (made === undefined) cache.set(schema, (made = build(schema)));
    return made;
  };
}

/** Resolves `#/components/schemas/Name`-style references inside `root`. */
function resolve(ref: string, root: unknown): Schema {
  if (!ref.startsWith('#/')) throw new Error(`json-schema: only local references are supported, not ${ref}`);
  let at: unknown = root;
  for (const token of ref.slice(2).split('/')) at = (at as Record<string, unknown> | undefined)?.[token];
  if (!at || typeof at !== 'object') throw new Error(`json-schema: ${ref} resolves to nothing`);
  return at as Schema;
}

/**
 * Why `value` is not valid against `schema`, or undefined when it is. Patterns are ECMA-262
 * regular expressions with the `u` flag, unanchored, as JSON Schema specifies.
 */
export function whyInvalid(schema: Schema, value: unknown, root: unknown = schema, at = ''): string | undefined {
  checkKeywords(schema, at || '/');
  const here = at || '(root)';
  if (typeof schema.$ref === 'string') {
    const why = whyInvalid(resolve(schema.$ref, root), value, root, at);
    if (why) return why;
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!types.some((t) => hasType(value, t))) return `${here}: not of type ${types.join('|')}`;
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => canonicalJson(e) === canonicalJson(value))) {
    return `${here}: not one of the enum`;
  }
  if ('const' in schema && canonicalJson(schema.const) !== canonicalJson(value)) return `${here}: not the const`;
  if (Array.isArray(schema.anyOf) && !schema.anyOf.some((s) => !whyInvalid(s as Schema, value, root, at))) {
    return `${here}: matches no anyOf branch`;
  }
  if (typeof value === 'string') {
    if (typeof schema.pattern === 'string' && !regex(schema.pattern).test(value)) {
      return `${here}: does not match ${schema.pattern}`;
    }
    if (typeof schema.minLength === 'number' && length(value) < schema.minLength) return `${here}: too short`;
    if (typeof schema.maxLength === 'number' && length(value) > schema.maxLength) return `${here}: too long`;
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) return `${here}: below the minimum`;
    if (typeof schema.maximum === 'number' && value > schema.maximum) return `${here}: above the maximum`;
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) return `${here}: too few items`;
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) return `${here}: too many items`;
    if (schema.uniqueItems === true && new Set(value.map(canonicalJson)).size !== value.length) {
      return `${here}: items are not unique`;
    }
    if (schema.items && typeof schema.items === 'object') {
      for (const [i, item] of value.entries()) {
        const why = whyInvalid(schema.items as Schema, item, root, `${at}/${i}`);
        if (why) return why;
      }
    }
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const object = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const name of (schema.required ?? []) as string[]) {
      if (!Object.prototype.hasOwnProperty.call(object, name)) return `${here}: ${name} is required`;
    }
    for (const [name, v] of Object.entries(object)) {
      const where = `${at}/${name}`;
      if (schema.propertyNames) {
        const why = whyInvalid(schema.propertyNames as Schema, name, root, where);
        if (why) return why;
      }
      const own = Object.prototype.hasOwnProperty.call(properties, name) ? properties[name] : undefined;
      if (own) {
        const why = whyInvalid(own, v, root, where);
        if (why) return why;
      } else if (schema.additionalProperties === false) {
        return `${where}: not an allowed property`;
      } else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
        const why = whyInvalid(schema.additionalProperties as Schema, v, root, where);
        if (why) return why;
      }
    }
  }
  return undefined;
}

export const isValid = (schema: Schema, value: unknown, root?: unknown): boolean =>
  whyInvalid(schema, value, root ?? schema) === undefined;

function integerArbitrary(min: number | undefined, max: number | undefined): fc.Arbitrary<number> {
  const lo = min ?? Number.MIN_SAFE_INTEGER;
  const hi = max ?? Number.MAX_SAFE_INTEGER;
  if (lo >= -(2 ** 31) && hi < 2 ** 31) return fc.integer({ min: lo, max: hi });
  return fc.maxSafeInteger().filter((n) => n >= lo && n <= hi);
}

const stringArbitrary = memo(buildStringArbitrary);
function buildStringArbitrary(schema: Schema): fc.Arbitrary<string> {
  const minLength = (schema.minLength as number | undefined) ?? 0;
  const maxLength = schema.maxLength as number | undefined;
  if (typeof schema.pattern === 'string') {
    return fc
      .stringMatching(new RegExp(schema.pattern))
      .filter((s) => length(s) >= minLength && (maxLength === undefined || length(s) <= maxLength));
  }
  return fc.string({ unit: 'binary', minLength, ...(maxLength !== undefined ? { maxLength } : {}) });
}

function arrayArbitrary(schema: Schema): fc.Arbitrary<unknown[]> {
  const item = validValue(schema.items as Schema);
  const minLength = (schema.minItems as number | undefined) ?? 0;
  const maxLength = (schema.maxItems as number | undefined) ?? minLength + 10;
  const unique = schema.uniqueItems === true;
  const make = (min: number, max: number) =>
    unique
      ? fc.uniqueArray(item, { selector: canonicalJson, minLength: min, maxLength: max })
      : fc.array(item, { minLength: min, maxLength: max });
  // Small arrays mostly, and now and then one of the largest size allowed.
  return fc.oneof(
    { weight: 4, arbitrary: make(minLength, maxLength) },
    { weight: 1, arbitrary: make(maxLength, maxLength) },
  );
}

function objectArbitrary(schema: Schema): fc.Arbitrary<Record<string, unknown>> {
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  const model = Object.fromEntries(Object.entries(properties).map(([name, s]) => [name, validValue(s)]));
  // Extra properties are never generated: a value without them is valid whatever additionalProperties says.
  return fc.record(model, { requiredKeys: (schema.required ?? []) as string[] });
}

/** Values valid against `schema` (self-contained: no `$ref`). Examples the schema gives are drawn now and then. */
export const validValue: (schema: Schema) => fc.Arbitrary<unknown> = memo(buildValidValue);
function buildValidValue(schema: Schema): fc.Arbitrary<unknown> {
  checkKeywords(schema, '/');
  if (schema.$ref || schema.propertyNames) throw new Error('json-schema: cannot generate $ref or propertyNames');
  let base: fc.Arbitrary<unknown>;
  if (Array.isArray(schema.enum)) base = fc.constantFrom(...(schema.enum as unknown[]));
  else if ('const' in schema) base = fc.constant(schema.const);
  else if (Array.isArray(schema.anyOf)) base = fc.oneof(...(schema.anyOf as Schema[]).map(validValue));
  else if (schema.type === 'string') base = stringArbitrary(schema);
  else if (schema.type === 'integer') {
    base = integerArbitrary(schema.minimum as number | undefined, schema.maximum as number | undefined);
  } else if (schema.type === 'boolean') base = fc.boolean();
  else if (schema.type === 'null') base = fc.constant(null);
  else if (schema.type === 'array') base = arrayArbitrary(schema);
  else if (schema.type === 'object') base = objectArbitrary(schema);
  else throw new Error(`json-schema: cannot generate values for ${JSON.stringify(schema).slice(0, 200)}`);
  const examples = Array.isArray(schema.examples) ? (schema.examples as unknown[]) : [];
  const drawn = examples.length ? fc.oneof(base, fc.constantFrom(...examples)) : base;
  // Every value is checked against the schema, so a generator bug (or a bad example) fails loudly.
  return drawn.map((value) => {
    const why = whyInvalid(schema, value);
    if (why) throw new Error(`json-schema: generated an invalid value ${JSON.stringify(value)}: ${why}`);
    return value;
  });
}

/** Characters that break many rules: spaces, controls, separators, non-ASCII, a lone surrogate. */
const TROUBLE = [
  ' ',
  '\t',
  '\n',
  '\u0000',
  '\u0007',
  '\u007f',
  '\u0085',
  '/',
  '.',
  '%',
  ':',
  'é',
  '🍅',
  '\ud800',
  'Z',
  '0',
];

/** Strings near a valid one: a character inserted, one removed, the end cut, or far too long. */
function nearMisses(schema: Schema): fc.Arbitrary<string> {
  const valid = stringArbitrary(schema);
  const maxLength = (schema.maxLength as number | undefined) ?? 100;
  return fc.oneof(
    fc
      .tuple(valid, fc.nat(), fc.constantFrom(...TROUBLE))
      .map(([s, i, c]) => s.slice(0, i % (s.length + 1)) + c + s.slice(i % (s.length + 1))),
    fc.tuple(valid, fc.nat()).map(([s, i]) => s.slice(0, i % (s.length + 1)) + s.slice((i % (s.length + 1)) + 1)),
    fc.tuple(valid, fc.nat()).map(([s, i]) => s.slice(0, i % (s.length + 1))),
    valid.map((s) => s + 'x'.repeat(maxLength + 1)),
  );
}

/** Numbers next to every bound in the schema (branches included): 0 between -1 and 1, 101 past 100... */
function boundaryNumbers(schema: Schema): number[] {
  const bounds: number[] = [];
  const walk = (s: Schema) => {
    for (const k of ['minimum', 'maximum']) if (typeof s[k] === 'number') bounds.push(s[k]);
    for (const branch of (s.anyOf ?? []) as Schema[]) walk(branch);
  };
  walk(schema);
  return bounds.flatMap((b) => [b - 1, b + 1, b + 0.5, -b]);
}

/**
 * Values `schema` refuses. `strings` limits them to strings (what a path, query or header can
 * carry). Each is checked invalid, so nothing valid slips in by chance.
 */
const invalidAny = memo((schema) => buildInvalidValue(schema, {}));
const invalidString = memo((schema) => buildInvalidValue(schema, { strings: true }));
export function invalidValue(schema: Schema, options: { strings?: boolean } = {}): fc.Arbitrary<unknown> {
  return options.strings ? invalidString(schema) : invalidAny(schema);
}
function buildInvalidValue(schema: Schema, options: { strings?: boolean }): fc.Arbitrary<unknown> {
  const candidates: fc.Arbitrary<unknown>[] = [
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.string({ unit: 'grapheme-ascii', maxLength: 20 }),
    fc.constantFrom('', ' ', '   ', '\t', '\u3000'),
  ];
  if (schema.type === 'string' || typeof schema.pattern === 'string') candidates.push(nearMisses(schema));
  if (Array.isArray(schema.enum)) {
    candidates.push(fc.constantFrom(...(schema.enum as unknown[])).map((e) => `${String(e).toLowerCase()}x`));
  }
  if (!options.strings) {
    candidates.push(fc.jsonValue({ maxDepth: 2 }));
    const numbers = boundaryNumbers(schema);
    if (numbers.length) candidates.push(fc.constantFrom(...numbers));
    if (schema.type === 'array') {
      const items = validValue(schema.items as Schema);
      const max = (schema.maxItems as number | undefined) ?? 10;
      candidates.push(fc.constant([]), fc.array(items, { minLength: max + 1, maxLength: max + 1 }));
      if (schema.uniqueItems === true) candidates.push(items.map((i) => [i, i]));
    }
  }
  return fc.oneof(...candidates).filter((v) => (!options.strings || typeof v === 'string') && !isValid(schema, v));
}

const DROP = Symbol('drop');

/** Sets (or, with DROP, deletes) the value at `path` in a copy of `target`. */
function setAt(target: unknown, path: readonly (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  if (Array.isArray(target)) {
    const copy = [...(target as unknown[])];
    if (rest.length === 0 && value === DROP) copy.splice(Number(head), 1);
    else copy[Number(head)] = setAt(copy[Number(head)], rest, value);
    return copy;
  }
  const copy = { ...(target as Record<string, unknown>) };
  if (rest.length === 0 && value === DROP) delete copy[head];
  else copy[head] = setAt(copy[head], rest, value);
  return copy;
}

/**
 * Arbitraries of `value` with exactly one defect somewhere inside (a bad leaf, a missing required
 * property, an unknown one where none are allowed, a bad item), each checked invalid as a whole.
 */
export function invalidVariant(schema: Schema, value: unknown): fc.Arbitrary<unknown> {
  const sites = collectSites(schema, value, []);
  return fc
    .oneof(...sites)
    .map(({ at, v }) => setAt(value, at, v))
    .filter((changed) => !isValid(schema, changed));
}

interface Site {
  at: (string | number)[];
  v: unknown;
}

function collectSites(schema: Schema, value: unknown, path: (string | number)[]): fc.Arbitrary<Site>[] {
  const sites: fc.Arbitrary<Site>[] = [invalidValue(schema).map((v) => ({ at: path, v }))];
  if (value && typeof value === 'object' && !Array.isArray(value) && schema.type === 'object') {
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const name of (schema.required ?? []) as string[]) sites.push(fc.constant({ at: [...path, name], v: DROP }));
    if (schema.additionalProperties === false) {
      const unknown = fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !(k in properties) && k !== '__proto__');
      sites.push(fc.tuple(unknown, fc.jsonValue({ maxDepth: 1 })).map(([k, v]) => ({ at: [...path, k], v })));
    }
    for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
      if (properties[name]) sites.push(...collectSites(properties[name], v, [...path, name]));
    }
  }
  if (Array.isArray(value) && schema.items) {
    for (const [i, item] of value.entries()) sites.push(...collectSites(schema.items as Schema, item, [...path, i]));
  }
  return sites;
}

import fc from 'fast-check';
import { codePoints, safeText, textPattern } from '../../src/api/common';
import { ALL_ROUTES, buildOpenApi, openApiPath } from '../../src/api/docs/openapi';
import { invalidValue, invalidVariant, isValid, validValue, type Schema } from '../support/json-schema';

/**
 * The same contract, without HTTP and with many more runs than test/api/contract.test.ts: for every
 * route, what the document's JSON Schema accepts the zod schema accepts, and what it refuses zod
 * refuses. Parameters are compared as the object the router validates (properties, required, no others).
 */

const doc = buildOpenApi();
type Part = 'params' | 'query' | 'headers' | 'body';
const WHERE = { params: 'path', query: 'query', headers: 'header' } as const;

interface DocOperation {
  parameters: { name: string; in: string; required: boolean; schema: Schema }[];
  requestBody?: { content: { 'application/json': { schema: Schema } } };
}

/** The document's schema of one part of a request, as one JSON Schema. */
function documented(op: DocOperation, part: Part): Schema {
  if (part === 'body') return op.requestBody!.content['application/json'].schema;
  const params = op.parameters.filter((p) => p.in === WHERE[part]);
  return {
    type: 'object',
    properties: Object.fromEntries(params.map((p) => [p.name, p.schema])),
    required: params.filter((p) => p.required).map((p) => p.name),
    additionalProperties: part === 'headers' ? undefined : false,
  };
}

const cases = ALL_ROUTES.flatMap((route) =>
  (['params', 'query', 'headers', 'body'] as const)
    .filter((part) => route[part])
    .map((part) => {
      const op = (doc.paths as Record<string, Record<string, DocOperation>>)[openApiPath(route.path)]![route.method]!;
      const schema = JSON.parse(JSON.stringify(documented(op, part))) as Schema;
      if (schema.additionalProperties === undefined) delete schema.additionalProperties;
      return [`${route.operationId} ${part}`, schema, route[part]!] as const;
    }),
);

describe('the document and the validation agree', () => {
  it.each(cases)(
    'when %s is generated from the document, then zod accepts what it calls valid',
    (_name, schema, zod) => {
      fc.assert(
        fc.property(validValue(schema), (value) => {
          const parsed = zod.safeParse(value);
          if (!parsed.success) throw new Error(`${JSON.stringify(value)}: ${parsed.error.message}`);
        }),
        { numRuns: 300 },
      );
    },
  );

  it.each(cases)('when %s has a defect the document refuses, then zod refuses it too', (_name, schema, zod) => {
    fc.assert(
      fc.property(
        validValue(schema).chain((v) => invalidVariant(schema, v)),
        (value) => {
          if (zod.safeParse(value).success) throw new Error(`accepted ${JSON.stringify(value)}`);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('safe text', () => {
  const schema = (max: number, multiline: boolean): Schema => ({
    type: 'string',
    pattern: textPattern({ multiline }).source,
    minLength: 1,
    maxLength: max,
  });
  const anyText = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 30 }),
    fc.string({ unit: 'grapheme', maxLength: 30 }),
    fc.constantFrom(' ', '\u00a0x', '\t', 'a\u0085', 'a\r\nb', '\ud83c', '\ud83c\udf45', 'x'.repeat(21)),
  );

  it('when the pattern is read with or without the u flag, then it accepts the same strings', () => {
    for (const multiline of [false, true]) {
      const plain = textPattern({ multiline });
      const unicode = new RegExp(plain.source, 'u');
      fc.assert(fc.property(anyText, (s) => plain.test(s) === unicode.test(s)));
    }
  });

  it('when any string is checked, then safeText and its JSON Schema agree, lengths in code points', () => {
    for (const multiline of [false, true]) {
      const zod = safeText(20, { multiline });
      const json = schema(20, multiline);
      fc.assert(
        fc.property(anyText, (s) => zod.safeParse(s).success === isValid(json, s)),
        { numRuns: 2000 },
      );
    }
    expect(codePoints('🍅'.repeat(20))).toBe(20);
    expect(safeText(20).safeParse('🍅'.repeat(20)).success).toBe(true);
    expect(safeText(20).safeParse(' a ').data).toBe('a');
  });

  it('when a string is refused, then the message says why', () => {
    const message = (s: string) => safeText(20).safeParse(s).error?.issues[0]?.message;
    expect(message('   ')).toBe('must not be blank');
    expect(message('a\u0000b')).toBe('must not contain control characters');
    expect(message('a\ud800')).toBe('must be well-formed Unicode');
    expect(message('x'.repeat(21))).toBe('must be at most 20 characters');
  });

  it('when the toolkit generates invalid strings for a pattern, then none matches it', () => {
    const s = schema(20, false);
    fc.assert(fc.property(invalidValue(s, { strings: true }), (v) => !isValid(s, v)));
  });
});

import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { businessFailure, isBusinessFailureType, REFUSALS, STEP_FAILURES } from '../../src/workflows/failures';

const SRC = path.resolve(__dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** One source of business failure types: every one is created by businessFailure(), typed, and non-retryable. */
describe('business failures', () => {
  it('when any code outside src/workflows/failures.ts creates an ApplicationFailure of its own, then this fails', () => {
    const creators = /ApplicationFailure\.(create|nonRetryable|retryable|fromError)\(|new ApplicationFailure\(/;
    const offenders = sourceFiles(SRC)
      .filter((file) => !file.endsWith(path.join('workflows', 'failures.ts')))
      .filter((file) => creators.test(fs.readFileSync(file, 'utf8')))
      .map((file) => path.relative(SRC, file));
    expect(offenders).toEqual([]);
  });

  it('when every type named in businessFailure() calls is collected from src, then each is a declared failure type', () => {
    const named = new Set<string>();
    for (const file of sourceFiles(SRC)) {
      for (const match of fs.readFileSync(file, 'utf8').matchAll(/businessFailure\(\s*'([A-Za-z]+)'/g)) {
        named.add(match[1] as string);
      }
    }
    expect(named.size).toBeGreaterThan(10);
    expect([...named].filter((type) => !isBusinessFailureType(type))).toEqual([]);
  });

  it('when a business failure is created, then it is non-retryable, typed, and carries its details and cause', () => {
    const cause = new Error('underneath');
    const failure = businessFailure('OutOfStock', 'Out of stock: TOM', { details: { shortages: [] }, cause });
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'OutOfStock', nonRetryable: true, message: 'Out of stock: TOM', cause });
    expect(failure.details).toEqual([{ shortages: [] }]);
    expect(businessFailure('NotParked', 'no').details ?? []).toEqual([]);
  });

  it('when step failures and refusals are listed, then no type is in both lists', () => {
    expect(Object.keys(STEP_FAILURES).filter((type) => type in REFUSALS)).toEqual([]);
  });
});

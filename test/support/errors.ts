// What a synchronous call throws, for tests that check coded errors. Anything but an ExportError fails the test.
import { expect } from 'vitest';
import { ExportError } from '../../lib/errors.js';

export function errorOf(f: () => unknown): ExportError {
  try {
    f();
  } catch (e) {
    if (e instanceof ExportError) return e;
    throw e;
  }
  throw new Error('expected an ExportError');
}

/** The ExportError code `f` throws, or 'no error' when it returns. */
export function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof ExportError) return e.code;
    throw e;
  }
  return 'no error';
}

/** Asserts `f` throws an ExportError with `code`, a message matching `message`, and the file/tensor given. */
export function expectExportError(f: () => unknown, code: string, message: RegExp, where: { file?: string; tensor?: string } = {}): ExportError {
  const e = errorOf(f);
  expect(e.code, e.message).toBe(code);
  expect(e.message).toMatch(message);
  if (where.file !== undefined) expect(e.file).toBe(where.file);
  if (where.tensor !== undefined) expect(e.tensor).toBe(where.tensor);
  return e;
}

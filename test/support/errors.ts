// What a synchronous call throws, for tests that check coded errors. Anything but an ExportError fails the test.
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

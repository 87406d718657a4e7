import { describe, expect, test } from 'vitest';
import { parseSize } from '../../lib/util/size.js';

describe('parseSize', () => {
  test('decimal units as transformers reads them, binary units, plain bytes', () => {
    expect(parseSize('5GB')).toBe(5_000_000_000);
    expect(parseSize('500MB')).toBe(500_000_000);
    expect(parseSize('2GiB')).toBe(2 * 1024 ** 3);
    expect(parseSize('1.5kb')).toBe(1500);
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize(10)).toBe(10);
  });
  test('nonsense is E_USAGE', () => {
    for (const bad of ['', 'GB', '5XB', '-1GB', '0', '1e3']) expect(() => parseSize(bad)).toThrow(/E_USAGE/);
  });
});

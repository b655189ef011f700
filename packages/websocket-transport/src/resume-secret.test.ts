import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { base64url, randomToken, secretDigest } from './resume-secret.js';

/** The encodings a session keeps for its lifetime: its id and the digest of its secret (spec B17). */
describe('resume secrets', () => {
  test.prop([fc.uint8Array({ maxLength: 64 })], { numRuns: 500 })('B17: base64url writes any bytes as RFC 4648 §5 unpadded base64url', (bytes) => {
    expect(base64url(bytes)).toBe(Buffer.from(bytes).toString('base64url'));
  });

  it('B17: ids and secrets are 128 random bits (22 characters), digests SHA-256 (43 characters)', () => {
    const tokens = new Set(Array.from({ length: 100 }, () => randomToken()));
    expect(tokens.size).toBe(100);
    for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(secretDigest('secret')).toBe(Buffer.from('2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b', 'hex').toString('base64url'));
    expect(secretDigest('secret')).toHaveLength(43);
  });
});

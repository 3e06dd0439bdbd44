import { describe, expect, it } from 'vitest';
import { closest, didYouMean, editDistance } from '../../src/config/suggest.js';

describe('did-you-mean', () => {
  it('edit distance', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('same', 'same')).toBe(0);
    expect(editDistance('nsf', 'nfs')).toBe(1);
    expect(editDistance('ca', 'abc')).toBe(3);
  });

  it('suggests close keys, prefixes of one key, and nothing for far ones', () => {
    const keys = ['failure_threshold', 'recovery_threshold', 'failover_timeout_ms'];
    expect(closest('failure_treshold', keys)).toBe('failure_threshold');
    expect(closest('Failure_Threshold', keys)).toBe('failure_threshold');
    expect(closest('failover_timeout', keys)).toBe('failover_timeout_ms');
    expect(closest('colour', keys)).toBeUndefined();
    expect(didYouMean('recovery_treshold', keys)).toBe(" (did you mean 'recovery_threshold'?)");
    expect(didYouMean('zzz', keys)).toBe('');
  });
});

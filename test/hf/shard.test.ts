import { describe, expect, test } from 'vitest';
import { planShards, shardIndex, tensorBytes } from '../../lib/hf/shard.js';

describe('planShards', () => {
  const tensors = Array.from({ length: 23 }, (_, i) => ({ name: `t${i}`, dtype: (i % 3 === 0 ? 'float32' : 'bfloat16') as 'float32' | 'bfloat16', shape: [1 + ((i * 7) % 11), 16] }));

  test.each([1, 100, 500, 1000, 4096, 1e9])('max %d bytes: order kept, every tensor once, shards within the limit unless a lone tensor is larger', (max) => {
    const shards = planShards(tensors, max);
    expect(shards.flatMap((s) => s.tensors.map((t) => t.name))).toEqual(tensors.map((t) => t.name));
    for (const s of shards) {
      expect(s.bytes).toBe(s.tensors.reduce((a, t) => a + t.shape[0]! * t.shape[1]! * (t.dtype === 'float32' ? 4 : 2), 0));
      if (s.tensors.length > 1) expect(s.bytes).toBeLessThanOrEqual(max);
    }
    // greedy: a shard was closed only because the next tensor did not fit
    for (let i = 0; i + 1 < shards.length; i++) expect(shards[i]!.bytes + tensorBytes(shards[i + 1]!.tensors[0]!)).toBeGreaterThan(max);
    const n = String(shards.length).padStart(5, '0');
    shards.forEach((s, i) => expect(s.file).toBe(`model-${String(i + 1).padStart(5, '0')}-of-${n}.safetensors`));
    const index = shardIndex(shards);
    expect(index.metadata.total_size).toBe(tensors.reduce((a, t) => a + tensorBytes(t), 0));
    expect(Object.keys(index.weight_map)).toEqual(tensors.map((t) => t.name).sort());
    for (const s of shards) for (const t of s.tensors) expect(index.weight_map[t.name]).toBe(s.file);
  });
});

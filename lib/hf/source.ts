// The Megatron side of a conversion: looks tensors up by their TP1 legacy names, accepting both the local
// spec's norm names and the TE spec's fused ones, and remembers what was used so nothing is silently dropped.
import { fail } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';

export class SourceTensors {
  constructor(
    private readonly tensors: ReadonlyMap<string, Tensor>,
    /** names the error messages should point at (the checkpoint path) */
    private readonly where: string,
    private readonly used = new Set<string>(),
    /** how a name asked for maps to the checkpoint's (see `renamed`) */
    private readonly alias: (name: string) => string = (n) => n,
  ) {}

  /**
   * The same tensors and bookkeeping, with names starting `from` read from `to` instead: a per-layer rule
   * written for `decoder.layers.<i>.` then reads another block's layer (a multi-token-prediction layer's).
   */
  renamed(from: string, to: string): SourceTensors {
    return new SourceTensors(this.tensors, this.where, this.used, (n) => (n.startsWith(from) ? to + n.slice(from.length) : n));
  }

  /** The checkpoint's tensor names. */
  names(): IterableIterator<string> {
    return this.tensors.keys();
  }

  has(name: string): boolean {
    return this.tensors.has(this.alias(name));
  }

  /** Whether a rule has taken (or deliberately ignored) the checkpoint tensor `name`. */
  isUsed(name: string): boolean {
    return this.used.has(name);
  }

  /** The first of `names` that exists; E_NOT_FOUND lists all of them. */
  get(...asked: string[]): Tensor {
    const names = asked.map(this.alias);
    for (const n of names) {
      const t = this.tensors.get(n);
      if (t) {
        this.used.add(n);
        return t;
      }
    }
    return fail('E_NOT_FOUND', `checkpoint has no tensor ${names.join(' or ')}`, { file: this.where, tensor: names[0]! });
  }

  /** Like get, but undefined when none of the names exist. */
  maybe(...names: string[]): Tensor | undefined {
    return names.some((n) => this.has(n)) ? this.get(...names) : undefined;
  }

  /** Marks tensors the target format deliberately has no place for (Megatron buffers that do not change outputs). */
  ignore(predicate: (name: string) => boolean): void {
    for (const n of this.tensors.keys()) if (predicate(n)) this.used.add(n);
  }

  /**
   * Throws E_UNSUPPORTED naming the tensors no rule consumed: a tensor we do not know how to place (qk-layernorm,
   * an MoE shared expert ...) would otherwise vanish from the export and change the model's outputs.
   */
  assertAllUsed(target: string): void {
    const left = [...this.tensors.keys()].filter((n) => !this.used.has(n));
    if (left.length > 0) {
      const shown = left.slice(0, 5).join(', ') + (left.length > 5 ? `, … (${left.length} in all)` : '');
      fail('E_UNSUPPORTED', `${target} export has no place for checkpoint tensor(s) ${shown}`, { file: this.where, tensor: left[0]! });
    }
  }
}

/** Megatron's per-layer names, local spec first, TE spec (norms fused into the next linear) second. */
export function layerNames(i: number) {
  const p = `decoder.layers.${i}.`;
  return {
    prefix: p,
    inputNorm: (what: 'weight' | 'bias') => [`${p}input_layernorm.${what}`, `${p}self_attention.linear_qkv.layer_norm_${what}`],
    preMlpNorm: (what: 'weight' | 'bias') => [`${p}pre_mlp_layernorm.${what}`, `${p}mlp.linear_fc1.layer_norm_${what}`],
    qkv: (what: 'weight' | 'bias') => `${p}self_attention.linear_qkv.${what}`,
    proj: (what: 'weight' | 'bias') => `${p}self_attention.linear_proj.${what}`,
    fc1: (what: 'weight' | 'bias') => `${p}mlp.linear_fc1.${what}`,
    fc2: (what: 'weight' | 'bias') => `${p}mlp.linear_fc2.${what}`,
    router: (what: 'weight' | 'bias') => `${p}mlp.router.${what}`,
    /** expert j's fc1/fc2: SequentialMLP names, then TE grouped-GEMM names */
    expert: (j: number, which: 'linear_fc1' | 'linear_fc2', what: 'weight' | 'bias') => [
      `${p}mlp.experts.local_experts.${j}.${which}.${what}`,
      `${p}mlp.experts.${which}.${what}${j}`,
    ],
  };
}

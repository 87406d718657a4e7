// Names inputs that are not Megatron-Core checkpoints but look like what people pass by mistake (a Hugging Face
// or TensorRT-LLM directory, one file of a torch_dist checkpoint), so openCheckpoint and `verify` can say what the
// input is instead of failing deep inside a reader.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export type InputKind = 'huggingface' | 'trtllm-checkpoint' | 'trtllm-engine' | 'torch-dist-file' | 'megatron';

export interface Recognized {
  readonly kind: InputKind;
  /** "a Hugging Face checkpoint (LlamaForCausalLM)": what the input is, for messages */
  readonly what: string;
  /** what to do instead */
  readonly hint: string;
}

function readJson(path: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** What `path` is when it is one of the recognised non-Megatron inputs; undefined otherwise (or when unreadable). */
export function recognizeInput(path: string): Recognized | undefined {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return undefined;
  if (st.isFile()) {
    const name = basename(path);
    // torch.distributed.checkpoint's FileSystemWriter: `__<rank>_<n>.distcp` data files and one `.metadata`
    if (name.endsWith('.distcp') || name === '.metadata') {
      return { kind: 'torch-dist-file', what: `one file of a torch_dist (torch.distributed.checkpoint) checkpoint`, hint: `pass its directory instead: ${dirname(path)}` };
    }
    return undefined;
  }
  if (!st.isDirectory()) return undefined;
  let names: string[];
  try {
    names = readdirSync(path);
  } catch {
    return undefined;
  }
  if (names.some((n) => ['metadata.json', '.metadata', 'latest_checkpointed_iteration.txt', 'model_optim_rng.pt'].includes(n) || /^(mp_rank_\d+(_\d+)*|iter_\d+|release)$/.test(n))) {
    return { kind: 'megatron', what: 'a Megatron-Core checkpoint', hint: 'convert it with `mcore-export trtllm DIR --out OUT_DIR` or `mcore-export hf DIR --out OUT_DIR`' };
  }
  const config = names.includes('config.json') ? readJson(join(path, 'config.json')) : undefined;
  if (names.some((n) => /^rank\d+\.engine$/.test(n))) {
    return { kind: 'trtllm-engine', what: 'a TensorRT-LLM engine directory (rank*.engine)', hint: 'it is already built: serve it with TensorRT-LLM' };
  }
  if (config && names.some((n) => /^rank\d+\.safetensors$/.test(n)) && (typeof config['architecture'] === 'string' || 'mapping' in config)) {
    return {
      kind: 'trtllm-checkpoint',
      what: `a TensorRT-LLM checkpoint${typeof config['architecture'] === 'string' ? ` (${config['architecture']})` : ''}`,
      hint: '`mcore-export verify DIR` checks it and `mcore-export build DIR --out ENGINE_DIR` builds an engine from it',
    };
  }
  if (config && (Array.isArray(config['architectures']) || typeof config['model_type'] === 'string') && names.some((n) => n.endsWith('.safetensors') || n.endsWith('.bin'))) {
    const arch = Array.isArray(config['architectures']) ? config['architectures'].join(', ') : String(config['model_type']);
    return {
      kind: 'huggingface',
      what: `a Hugging Face checkpoint (${arch})`,
      hint: 'mcore-export converts Megatron-Core checkpoints (latest_checkpointed_iteration.txt, iter_*, mp_rank_*, torch_dist); TensorRT-LLM converts Hugging Face checkpoints itself (convert_checkpoint.py or its LLM API)',
    };
  }
  return undefined;
}

/** "this is …, not a Megatron-Core checkpoint: …", for openCheckpoint's errors. */
export function notMegatron(r: Recognized): string {
  return `this is ${r.what}${r.kind === 'torch-dist-file' ? '' : ', not a Megatron-Core checkpoint'}: ${r.hint}`;
}

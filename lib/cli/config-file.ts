// `--config FILE`: the model configuration for inputs that carry none (safetensors). Either Megatron's args as a
// JSON object (snake_case: num_layers, hidden_size, ...; what `vars(args)` holds) or a TransformerConfig as JSON
// (camelCase: what `mcore-export inspect --json` prints under "config"). JSON only: Megatron's YAML configs
// (--yaml-cfg) would need a YAML parser as a new dependency for one flag; convert them to JSON first.
import { readFileSync } from 'node:fs';
import { fail } from '../errors.js';
import type { Args } from '../megatron/config.js';
import type { TransformerConfig } from '../megatron/types.js';

export type ConfigFile = { readonly config: TransformerConfig } | { readonly args: Args };

/** TransformerConfig's required fields and their JSON types (lib/megatron/types.ts). */
const REQUIRED: Readonly<Record<string, 'number' | 'boolean' | 'string'>> = {
  numLayers: 'number', hiddenSize: 'number', ffnHiddenSize: 'number', numAttentionHeads: 'number', numQueryGroups: 'number',
  kvChannels: 'number', normalization: 'string', layernormEpsilon: 'number', layernormZeroCenteredGamma: 'boolean',
  gatedLinearUnit: 'boolean', activation: 'string', addBiasLinear: 'boolean', addQkvBias: 'boolean', positionEmbeddingType: 'string',
  rotaryPercent: 'number', rotaryBase: 'number', rotaryInterleaved: 'boolean', maxPositionEmbeddings: 'number',
  paddedVocabSize: 'number', shareEmbeddingsAndOutputWeights: 'boolean', paramsDtype: 'string',
};

export function readConfigFile(path: string): ConfigFile {
  if (/\.ya?ml$/i.test(path)) {
    fail('E_UNSUPPORTED', `--config reads JSON only; convert the YAML first, e.g. python -c 'import json,sys,yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)' ${path} > config.json`, { file: path });
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return fail('E_NOT_FOUND', `cannot read --config: ${(e as Error).message}`, { file: path });
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return fail('E_CONFIG', `--config is not JSON: ${(e as Error).message}`, { file: path });
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail('E_CONFIG', '--config must hold a JSON object', { file: path });
  const o = v as Record<string, unknown>;
  if ('num_layers' in o) return { args: o };
  if ('numLayers' in o) {
    const wrong = Object.entries(REQUIRED).filter(([k, t]) => typeof o[k] !== t).map(([k, t]) => `${k} (${t})`);
    if (wrong.length) fail('E_CONFIG', `--config is a TransformerConfig without ${wrong.join(', ')}`, { file: path });
    return { config: o as unknown as TransformerConfig };
  }
  return fail('E_CONFIG', '--config is neither Megatron args (num_layers, hidden_size, ...) nor a TransformerConfig (numLayers, hiddenSize, ...)', { file: path });
}

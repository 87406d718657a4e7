// Embedding mcore-export in a program: open a Megatron-Core checkpoint, look at it, export it to TensorRT-LLM and
// Hugging Face with progress and cancellation, then do the same conversion step by step with TRTLLMHelper (as
// Megatron's own export flow does) and save its weights. CI type-checks this file and runs it against the
// installed package: `node examples/dist/embed.js CKPT OUT_DIR`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Checkpoint,
  type DTypeName,
  exportHf,
  exportTrtllm,
  features,
  helperOptionsFor,
  isExportError,
  openCheckpoint,
  type Progress,
  saveTrtllmCheckpoint,
  TRTLLMHelper,
  verifyTrtllmDir,
} from 'mcore-export';

function progressPrinter(label: string): (p: Progress) => void {
  let lastPercent = -1;
  return (p) => {
    const percent = p.bytesTotal > 0 ? Math.floor((100 * p.bytesDone) / p.bytesTotal) : 100;
    if (percent >= lastPercent + 25 || percent === 100) console.log(`${label}: ${percent}%`);
    lastPercent = percent;
  };
}

function inspect(ckpt: Checkpoint): void {
  const c = ckpt.config;
  console.log(`${ckpt.path}: ${ckpt.format}, model type ${ckpt.modelType}, trained TP ${ckpt.layout.tp} PP ${ckpt.layout.pp}`);
  console.log(`  ${c.numLayers} layers, hidden ${c.hiddenSize}, ${c.numAttentionHeads} heads, ${ckpt.tensors.size} tensors`);
}

async function main(ckptPath: string, outRoot: string): Promise<void> {
  const f = features();
  console.log(`native addon ${f.version}: cuda ${f.cuda}, ${f.cudaDevices} GPU(s), ${f.threads} threads`);
  const dtype: DTypeName = 'bfloat16';
  const ckpt = openCheckpoint(ckptPath);
  try {
    inspect(ckpt);

    // 1. TensorRT-LLM checkpoint, TP 2, with a progress callback
    const trt = await exportTrtllm(ckpt, { outDir: join(outRoot, 'trtllm-tp2'), tpSize: 2, dtype, onProgress: progressPrinter('trtllm') });
    console.log(`trtllm: ${trt.files.length} files, ${trt.bytes} bytes; verify ok: ${verifyTrtllmDir(trt.outDir).ok}`);

    // 2. Hugging Face directory
    const hf = await exportHf(ckpt, { outDir: join(outRoot, 'hf'), dtype, onProgress: progressPrinter('hf') });
    console.log(`hf: ${hf.architecture}, ${hf.tensors} tensors in ${hf.files.length} file(s)`);

    // 3. Cancellation: an aborted export rejects with E_ABORTED and leaves nothing behind
    const controller = new AbortController();
    controller.abort();
    try {
      await exportTrtllm(ckpt, { outDir: join(outRoot, 'cancelled'), signal: controller.signal });
      throw new Error('the aborted export should have been refused');
    } catch (e) {
      if (!isExportError(e) || e.code !== 'E_ABORTED') throw e;
      console.log(`cancelled: ${e.code}`);
    }

    // 4. Megatron's flow: TRTLLMHelper → weights and configs (lazy: nothing read yet) → saveTrtllmCheckpoint
    const helper = new TRTLLMHelper(helperOptionsFor(ckpt, ckpt.modelType));
    const { weights, configs } = helper.getTrtllmPretrainedConfigAndModelWeights({
      modelStateDict: ckpt.tensors,
      dtype: 'bfloat16',
      exportConfig: { inferenceTpSize: 2 },
    });
    const saved = await saveTrtllmCheckpoint(configs, weights, join(outRoot, 'helper-tp2'), { onProgress: progressPrinter('helper') });
    console.log(`helper: ranks ${saved.ranks.join(', ')}, verify ok: ${verifyTrtllmDir(saved.outDir).ok}`);
  } finally {
    ckpt.close();
  }
}

const [ckptPath, outArg] = process.argv.slice(2);
if (!ckptPath) {
  console.error('usage: node examples/dist/embed.js CHECKPOINT [OUT_DIR]   (e.g. node_modules/mcore-export/assets/tiny-llama)');
  process.exit(2);
}
const outRoot = outArg ?? mkdtempSync(join(tmpdir(), 'mcore-export-example-'));
main(ckptPath, outRoot).then(
  () => {
    if (!outArg) rmSync(outRoot, { recursive: true, force: true });
  },
  (e: unknown) => {
    console.error(isExportError(e) ? `${e.code}: ${e.message}` : e);
    process.exitCode = 1;
  },
);

// Stand-in for `trtllm-build` (TensorRT-LLM cannot be installed here; the real one needs a GPU and a 1.x wheel).
// It records its argv and cwd, logs in TensorRT-LLM's format, and writes a fake engine directory shaped like
// the real one (config.json + rank{N}.engine per rank of the checkpoint's mapping). Behaviour is chosen by env:
//   FAKE_TRTLLM_RECORD   file to write {argv, cwd, pid} to (JSON) as soon as it starts
//   FAKE_TRTLLM_MODE     ok (default) | fail | no-backend | missing-rank | no-config | hang | hang-ignore-term
//   FAKE_TRTLLM_DELAY_MS pause between ranks (default 0)
//   FAKE_TRTLLM_COPY_CHECKPOINT  copy the checkpoint directory it was given there (what it would have read)
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const argv = process.argv.slice(2);
const mode = process.env.FAKE_TRTLLM_MODE ?? 'ok';
const delay = Number(process.env.FAKE_TRTLLM_DELAY_MS ?? 0);
if (process.env.FAKE_TRTLLM_RECORD) {
  writeFileSync(process.env.FAKE_TRTLLM_RECORD, JSON.stringify({ argv, cwd: process.cwd(), pid: process.pid }));
}
const arg = (name) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : undefined; };
const stamp = () => new Date().toISOString().slice(0, 19);
const log = (lvl, msg) => process.stdout.write(`[${stamp()}] [TRT-LLM] [${lvl}] ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (mode === 'no-backend') {
  // What a left-over trtllm-build entry point prints against a TensorRT-LLM without the TensorRT backend.
  process.stderr.write('Traceback (most recent call last):\n  File "/usr/local/bin/trtllm-build", line 5, in <module>\n' +
    '    from tensorrt_llm.commands.build import main\nModuleNotFoundError: No module named \'tensorrt_llm.commands.build\'\n');
  process.exit(1);
}
if (mode === 'hang' || mode === 'hang-ignore-term') {
  if (mode === 'hang-ignore-term') process.on('SIGTERM', () => log('W', 'SIGTERM received and ignored'));
  log('I', 'Set PluginConfig.gpt_attention_plugin to auto.');
  log('I', 'building rank0 (stand-in, waiting forever)');
  setInterval(() => {}, 1000);
} else {
  const ckpt = arg('--checkpoint_dir');
  const out = arg('--output_dir');
  if (process.env.FAKE_TRTLLM_COPY_CHECKPOINT) cpSync(ckpt, process.env.FAKE_TRTLLM_COPY_CHECKPOINT, { recursive: true });
  const config = JSON.parse(readFileSync(join(ckpt, 'config.json'), 'utf8'));
  const m = config.mapping ?? {};
  const world = m.world_size ?? (m.tp_size ?? 1) * (m.pp_size ?? 1);
  log('I', `Set dtype to ${config.dtype}.`);
  process.stderr.write(`[${stamp()}] [TRT] [W] stand-in warning on stderr\n`);
  if (mode === 'fail') {
    log('E', 'Required but not provided tensors: {transformer.layers.0.attention.qkv.weight}');
    process.stderr.write('RuntimeError: Required but not provided tensors\n');
    process.exit(3);
  }
  mkdirSync(out, { recursive: true });
  writeFileSync(join(process.cwd(), 'model.cache'), 'stand-in timing cache');
  if (mode !== 'no-config') {
    writeFileSync(join(out, 'config.json'), JSON.stringify({ version: '1.0.0-standin', pretrained_config: config, build_config: { argv } }));
  }
  for (let r = 0; r < world; r++) {
    if (mode === 'missing-rank' && r === world - 1) break;
    if (delay) await sleep(delay);
    const file = join(out, `rank${r}.engine`);
    log('I', `Serializing engine to ${file}...`);
    writeFileSync(file, `stand-in engine for rank ${r}\n`);
    log('I', 'Engine serialized. Total time: 00:00:00');
  }
  log('I', 'Total time of building all engines: 00:00:00');
}

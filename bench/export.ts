// Export benchmark: runs the real CLI (`node bin/mcore-export.js trtllm|hf CKPT --out OUT --json`) as a child
// process on a (generated) Megatron checkpoint and reports
//   - throughput: input bytes / wall time of the child (start-up and planning included),
//   - peak memory of the child: VmHWM (kernel high-water mark, includes mapped file pages) and the sampled
//     peaks of RssAnon (heap/anonymous: what the process really holds) and RssFile (page-cache mappings),
//   - the machine's I/O bound measured in the same run: the same input files read once and written once
//     (dd, 16 MiB blocks, appended to OUT/iobound.tmp), timed the same way, and the ratio export time / I/O-bound time.
// Each timed phase ends with syncfs on the output's filesystem (both "to exit" and "to synced" are shown), and
// dirty data is flushed (untimed) before each phase so one phase's writeback does not slow the next.
//
// Build: npx tsc -p tsconfig.bench.json
// Run:   node dist-bench/bench/export.js --ckpt /tmp/mcore-bench/llama-30g --out /tmp/mcore-bench/out [--tp 1] [--pp 1]
//        [--command trtllm|hf] [--dtype D] [--threads N] [--repeat N] [--json] [--drop-caches]
// --command hf exports a Hugging Face directory instead (--tp/--pp do not apply; --dtype is passed on).
// --drop-caches (root only): before each timed phase, sync and drop the page cache (echo 3 > /proc/sys/vm/drop_caches),
// so the export and dd both read their input from disk (otherwise small, cache-hot inputs make the bound unfair).
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const CLI = fileURLToPath(new URL('../../bin/mcore-export.js', import.meta.url));

interface Peak {
  vmHwmKiB: number;
  rssAnonKiB: number;
  rssFileKiB: number;
}

interface Phase {
  seconds: number;
  secondsSynced: number;
  exitCode: number | null;
  peak: Peak;
  stdout: string;
  stderr: string;
}

function statusKiB(text: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** Runs a command, sampling /proc/<pid>/status every 20 ms, then syncs the filesystem of `syncPath`. */
function runMeasured(cmd: string, args: string[], syncPath: string): Promise<Phase> {
  return new Promise((resolvePhase, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const peak: Peak = { vmHwmKiB: 0, rssAnonKiB: 0, rssFileKiB: 0 };
    const sample = (): void => {
      try {
        const s = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        peak.vmHwmKiB = Math.max(peak.vmHwmKiB, statusKiB(s, 'VmHWM'));
        peak.rssAnonKiB = Math.max(peak.rssAnonKiB, statusKiB(s, 'RssAnon'));
        peak.rssFileKiB = Math.max(peak.rssFileKiB, statusKiB(s, 'RssFile'));
      } catch {
        // the process has exited between samples
      }
    };
    const timer = setInterval(sample, 20);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(timer);
      const seconds = (performance.now() - t0) / 1000;
      syncfs(syncPath);
      resolvePhase({ seconds, secondsSynced: (performance.now() - t0) / 1000, exitCode: code, peak, stdout, stderr });
    });
    sample();
  });
}

function syncfs(path: string): void {
  spawnSync('sync', ['-f', path], { stdio: 'ignore' });
}

/** Flushes all dirty data and empties the page cache (needs root); fails loudly rather than measure warm caches. */
function dropCaches(): void {
  spawnSync('sync', { stdio: 'ignore' });
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
  } catch (e) {
    throw new Error(`--drop-caches: cannot write /proc/sys/vm/drop_caches (${e instanceof Error ? e.message : String(e)}); run as root or leave the flag off`);
  }
}

function inputFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...inputFiles(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** The iteration directory the tracker names (the files an export reads). */
function iterationDir(ckpt: string): string {
  const tracker = join(ckpt, 'latest_checkpointed_iteration.txt');
  try {
    const it = readFileSync(tracker, 'utf8').trim();
    return join(ckpt, it === 'release' ? 'release' : `iter_${it.padStart(7, '0')}`);
  } catch {
    return ckpt;
  }
}

const gb = (b: number): number => b / 1e9;

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    options: {
      ckpt: { type: 'string' },
      out: { type: 'string' },
      tp: { type: 'string', default: '1' },
      pp: { type: 'string', default: '1' },
      threads: { type: 'string' },
      command: { type: 'string', default: 'trtllm' },
      dtype: { type: 'string' },
      repeat: { type: 'string', default: '1' },
      json: { type: 'boolean' },
      keep: { type: 'boolean' },
      'drop-caches': { type: 'boolean' },
    },
  });
  if (!v.ckpt || !v.out) throw new Error('usage: export.js --ckpt DIR --out DIR [--tp N] [--pp N] [--threads N] [--repeat N] [--json] [--keep]');
  const files = inputFiles(iterationDir(v.ckpt));
  const inputBytes = files.reduce((a, f) => a + statSync(f).size, 0);
  if (v.command !== 'trtllm' && v.command !== 'hf') throw new Error(`--command must be trtllm or hf, got '${v.command}'`);
  const exportDir = join(v.out, v.command);
  const ioFile = join(v.out, 'iobound.tmp');
  spawnSync('mkdir', ['-p', v.out]);
  const layout = v.command === 'trtllm' ? ['--tp', v.tp, '--pp', v.pp] : [];
  const cliArgs = [CLI, v.command, v.ckpt, '--out', exportDir, ...layout, '--json', '--force', ...(v.dtype ? ['--dtype', v.dtype] : []), ...(v.threads ? ['--threads', v.threads] : [])];

  const runs: { export: Phase; io: Phase; outputBytes: number }[] = [];
  for (let i = 0; i < Number(v.repeat); i++) {
    rmSync(exportDir, { recursive: true, force: true });
    rmSync(ioFile, { force: true });
    syncfs(v.out);
    if (v['drop-caches']) dropCaches();
    const ex = await runMeasured(process.execPath, cliArgs, v.out);
    if (ex.exitCode !== 0) throw new Error(`export failed (${ex.exitCode}): ${ex.stderr.slice(-2000)}`);
    const result = JSON.parse(ex.stdout) as { bytes: number };
    // free the disk before the copy (a 30 GB input must not need 3× its size free)
    if (!(v.keep && i === Number(v.repeat) - 1)) rmSync(exportDir, { recursive: true, force: true });
    syncfs(v.out);
    if (v['drop-caches']) dropCaches();
    // the I/O bound: the same input read once and written once by dd with 16 MiB blocks (faster than cat here)
    const io = await runMeasured('sh', ['-c', 'for f in "$@"; do dd if="$f" of="$0" bs=16M oflag=append conv=notrunc status=none || exit 1; done', ioFile, ...files], v.out);
    if (io.exitCode !== 0) throw new Error(`I/O-bound copy failed: ${io.stderr}`);
    rmSync(ioFile, { force: true });
    runs.push({ export: ex, io, outputBytes: result.bytes });
  }

  const best = runs.reduce((a, r) => (r.export.secondsSynced < a.export.secondsSynced ? r : a));
  const report = {
    checkpoint: v.ckpt,
    command: v.command,
    inputFiles: files.length,
    inputGB: gb(inputBytes),
    outputGB: gb(best.outputBytes),
    tp: Number(v.tp),
    pp: Number(v.pp),
    droppedCaches: v['drop-caches'] === true,
    runs: runs.map((r) => ({
      exportSeconds: r.export.seconds,
      exportSecondsSynced: r.export.secondsSynced,
      exportGBps: gb(inputBytes) / r.export.seconds,
      exportGBpsSynced: gb(inputBytes) / r.export.secondsSynced,
      ioBoundSeconds: r.io.seconds,
      ioBoundSecondsSynced: r.io.secondsSynced,
      ioBoundGBps: gb(inputBytes) / r.io.seconds,
      ioBoundGBpsSynced: gb(inputBytes) / r.io.secondsSynced,
      /** export time / I/O-bound time (1.0 = as fast as reading and writing the bytes once) */
      ratio: r.export.seconds / r.io.seconds,
      ratioSynced: r.export.secondsSynced / r.io.secondsSynced,
      peakVmHwmMiB: r.export.peak.vmHwmKiB / 1024,
      peakRssAnonMiB: r.export.peak.rssAnonKiB / 1024,
      peakRssFileMiB: r.export.peak.rssFileKiB / 1024,
    })),
  };
  if (v.json) console.log(JSON.stringify(report, null, 2));
  else {
    console.log(`export of ${v.ckpt}: ${report.inputGB.toFixed(2)} GB in (${files.length} files) → ${report.outputGB.toFixed(2)} GB out, tp ${v.tp} pp ${v.pp}`);
    for (const r of report.runs)
      console.log(
        `  export ${r.exportSeconds.toFixed(2)} s (${r.exportGBps.toFixed(2)} GB/s), synced ${r.exportSecondsSynced.toFixed(2)} s (${r.exportGBpsSynced.toFixed(2)} GB/s); ` +
          `I/O bound ${r.ioBoundSeconds.toFixed(2)} s (${r.ioBoundGBps.toFixed(2)} GB/s), synced ${r.ioBoundSecondsSynced.toFixed(2)} s; ` +
          `ratio ${r.ratio.toFixed(2)} (synced ${r.ratioSynced.toFixed(2)}); peak VmHWM ${r.peakVmHwmMiB.toFixed(0)} MiB, RssAnon ${r.peakRssAnonMiB.toFixed(0)} MiB, RssFile ${r.peakRssFileMiB.toFixed(0)} MiB`,
      );
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});

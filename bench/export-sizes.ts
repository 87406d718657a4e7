// Export sizes: bounded memory and I/O-bound speed of `trtllm` on the CPU, across checkpoint sizes.
//
//   node dist-bench/bench/export-sizes.js run --ckpt DIR --label 8g --tp 1,4 --runs 2 --out SCRATCH --raw FILE.json
//   node dist-bench/bench/export-sizes.js summary --raw FILE.json
//
// `run` calls bench/export.js once per (run, tp) with --drop-caches (so the export and the dd bound both read
// from disk), alternating the target TPs so slow drift of a shared machine hits both, and appends each report
// with the load average and the time to FILE.json. `summary` prints the medians per (label, tp) as a Markdown
// table and checks the issue's targets: peak VmHWM <= 1.5 GiB, export >= 70 % of the I/O bound's speed,
// seconds per GB within +-15 % of their mean across sizes (per TP).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const EXPORT_BENCH = fileURLToPath(new URL('./export.js', import.meta.url));

interface RunReport {
  exportSecondsSynced: number;
  ioBoundSecondsSynced: number;
  ratioSynced: number;
  peakVmHwmMiB: number;
  peakRssAnonMiB: number;
  peakRssFileMiB: number;
}

interface ExportReport {
  checkpoint: string;
  inputFiles: number;
  inputGB: number;
  outputGB: number;
  tp: number;
  droppedCaches: boolean;
  runs: RunReport[];
}

interface RawRecord {
  label: string;
  tp: number;
  at: string;
  loadBefore: number[];
  loadAfter: number[];
  report: ExportReport;
}

function readRaw(file: string): RawRecord[] {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as RawRecord[]) : [];
}

function run(v: Record<string, string | boolean | undefined>): void {
  const ckpt = v['ckpt'];
  const out = v['out'];
  const raw = v['raw'];
  const label = v['label'];
  if (typeof ckpt !== 'string' || typeof out !== 'string' || typeof raw !== 'string' || typeof label !== 'string')
    throw new Error('usage: export-sizes.js run --ckpt DIR --label NAME --out SCRATCH --raw FILE.json [--tp 1,4] [--runs N]');
  const tps = String(v['tp'] ?? '1,4').split(',').map(Number);
  const runs = Number(v['runs'] ?? '2');
  for (let r = 0; r < runs; r++) {
    for (const tp of tps) {
      const loadBefore = loadavg();
      const at = new Date().toISOString();
      const child = spawnSync(
        process.execPath,
        [EXPORT_BENCH, '--ckpt', ckpt, '--out', out, '--tp', String(tp), '--repeat', '1', '--drop-caches', '--json'],
        { encoding: 'utf8', maxBuffer: 1 << 26 },
      );
      if (child.status !== 0) throw new Error(`export bench failed for ${label} tp ${tp}: ${child.stderr}`);
      const report = JSON.parse(child.stdout) as ExportReport;
      const record: RawRecord = { label, tp, at, loadBefore, loadAfter: loadavg(), report };
      // re-read before appending: several drivers may share one file, one after another
      writeFileSync(raw, JSON.stringify([...readRaw(raw), record], null, 1) + '\n');
      const r0 = report.runs[0]!;
      console.log(
        `${label} tp${tp} run ${r + 1}/${runs}: ${r0.exportSecondsSynced.toFixed(1)} s, I/O bound ${r0.ioBoundSecondsSynced.toFixed(1)} s, ` +
          `ratio ${r0.ratioSynced.toFixed(2)}, VmHWM ${r0.peakVmHwmMiB.toFixed(0)} MiB, load ${loadBefore[0]!.toFixed(1)}`,
      );
    }
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function summary(v: Record<string, string | boolean | undefined>): void {
  const raw = v['raw'];
  if (typeof raw !== 'string') throw new Error('usage: export-sizes.js summary --raw FILE.json');
  const records = readRaw(raw);
  const groups = new Map<string, RawRecord[]>();
  for (const rec of records) {
    const key = `${rec.label}\u0000${rec.tp}`;
    groups.set(key, [...(groups.get(key) ?? []), rec]);
  }
  const rows = [...groups.values()]
    .map((recs) => {
      const runs = recs.map((r) => r.report.runs[0]!);
      const inputGB = recs[0]!.report.inputGB;
      const ex = median(runs.map((r) => r.exportSecondsSynced));
      const io = median(runs.map((r) => r.ioBoundSecondsSynced));
      return {
        label: recs[0]!.label,
        tp: recs[0]!.tp,
        inputGB,
        outputGB: recs[0]!.report.outputGB,
        n: runs.length,
        exportRaw: runs.map((r) => r.exportSecondsSynced),
        ioRaw: runs.map((r) => r.ioBoundSecondsSynced),
        ex,
        io,
        // the export's speed as a share of the bound's: bound time / export time of the medians
        ofBound: io / ex,
        sPerGB: ex / inputGB,
        vmHwmMax: Math.max(...runs.map((r) => r.peakVmHwmMiB)),
        anonMax: Math.max(...runs.map((r) => r.peakRssAnonMiB)),
        fileMax: Math.max(...runs.map((r) => r.peakRssFileMiB)),
        load: median(recs.map((r) => r.loadBefore[0]!)),
        droppedCaches: recs.every((r) => r.report.droppedCaches),
      };
    })
    .sort((a, b) => a.tp - b.tp || a.inputGB - b.inputGB);
  const f = (x: number, d = 1): string => x.toFixed(d);
  console.log('| input | → TP | runs | export s (raw) | median export | GB/s in | I/O bound s (raw) | median bound | export speed / bound | s per GB | peak VmHWM | peak RssAnon / RssFile | load 1-min |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows)
    console.log(
      `| ${r.label} (${f(r.inputGB, 2)} GB) | ${r.tp} | ${r.n} | ${r.exportRaw.map((x) => f(x)).join(', ')} | ${f(r.ex)} s | ${f(r.inputGB / r.ex, 2)} | ` +
        `${r.ioRaw.map((x) => f(x)).join(', ')} | ${f(r.io)} s | ${f(100 * r.ofBound, 0)} % | ${f(r.sPerGB, 2)} | ${f(r.vmHwmMax, 0)} MiB | ` +
        `${f(r.anonMax, 0)} / ${f(r.fileMax, 0)} MiB | ${f(r.load)} |`,
    );
  console.log('');
  const memOk = rows.every((r) => r.vmHwmMax <= 1.5 * 1024);
  const speedOk = rows.every((r) => r.ofBound >= 0.7);
  console.log(`peak VmHWM <= 1.5 GiB everywhere: ${memOk ? 'yes' : 'NO'} (max ${f(Math.max(...rows.map((r) => r.vmHwmMax)), 0)} MiB)`);
  console.log(`export >= 70 % of the I/O bound everywhere: ${speedOk ? 'yes' : 'NO'} (min ${f(100 * Math.min(...rows.map((r) => r.ofBound)), 0)} %)`);
  for (const tp of [...new Set(rows.map((r) => r.tp))]) {
    const s = rows.filter((r) => r.tp === tp).map((r) => r.sPerGB);
    const mean = s.reduce((a, b) => a + b, 0) / s.length;
    const dev = s.map((x) => (100 * (x - mean)) / mean);
    console.log(
      `TP${tp} s/GB: ${s.map((x) => f(x, 2)).join(', ')} (mean ${f(mean, 2)}; deviations ${dev.map((d) => `${d >= 0 ? '+' : ''}${f(d, 0)} %`).join(', ')}): ` +
        `${dev.every((d) => Math.abs(d) <= 15) ? 'within' : 'NOT within'} ±15 %`,
    );
  }
  if (!rows.every((r) => r.droppedCaches)) console.log('note: some runs were made without --drop-caches');
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    ckpt: { type: 'string' },
    label: { type: 'string' },
    out: { type: 'string' },
    raw: { type: 'string' },
    tp: { type: 'string' },
    runs: { type: 'string' },
  },
});
try {
  if (positionals[0] === 'run') run(values);
  else if (positionals[0] === 'summary') summary(values);
  else throw new Error('usage: export-sizes.js run|summary ...');
} catch (e) {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
}

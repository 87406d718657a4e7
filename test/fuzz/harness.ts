// Fuzz driver: builds inputs (cases.ts), hands them one at a time to worker processes (worker.mjs), bounds each
// input in time, and restarts a worker that crashed or hung, recording the input it was on. Outcome classes:
// ok, coded (an E_ error), uncoded (failed without a code), crash (signal, uncaught or non-coded exception), hang.
import { type ChildProcess, fork } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Base, type FuzzCase, makeCase, prepareBases } from './cases.js';

export const WORKER = fileURLToPath(new URL('./worker.mjs', import.meta.url));

export type Outcome = 'ok' | 'coded' | 'uncoded' | 'crash' | 'hang';

export interface CommandResult {
  readonly cmd: string;
  readonly outcome: Exclude<Outcome, 'hang'>;
  readonly code?: string;
  readonly rc?: number;
  readonly message?: string;
  readonly detail?: string;
  readonly ms: number;
}

export interface CaseResult {
  readonly index: number;
  readonly base: string;
  readonly mutations: readonly string[];
  readonly outcome: Outcome;
  readonly commands: readonly CommandResult[];
  readonly detail?: string;
}

export interface FuzzOptions {
  readonly seed: number;
  readonly count: number;
  /** first input index (to resume or split a run) */
  readonly start?: number;
  readonly workers?: number;
  /** per input; longer = hang */
  readonly timeoutMs?: number;
  /** scratch space: pristine base copies, inputs, outputs */
  readonly workDir: string;
  /** failing inputs are copied here with a result.json */
  readonly findingsDir?: string;
  /** a worker is replaced after this many inputs (bounds memory growth between restarts) */
  readonly recycleAfter?: number;
  readonly onResult?: (r: CaseResult, done: number) => void;
}

export interface FuzzSummary {
  readonly seed: number;
  readonly inputs: number;
  readonly seconds: number;
  readonly outcomes: Record<Outcome, number>;
  /** coded failures by code, per command */
  readonly codes: Record<string, number>;
  readonly failures: CaseResult[];
  /** inputs by how far the trtllm export got: 'ok' means a mutated input still exported */
  readonly trtllmOk: number;
  readonly maxMs: number;
}

const RANK: Record<Outcome, number> = { ok: 0, coded: 1, uncoded: 2, crash: 3, hang: 4 };

interface Slot {
  child: ChildProcess;
  served: number;
  stderr: string;
}

function spawnWorker(): Promise<Slot> {
  const child = fork(WORKER, [], { execArgv: ['--max-old-space-size=1024'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  const slot: Slot = { child, served: 0, stderr: '' };
  child.stderr!.on('data', (d: Buffer) => {
    slot.stderr = (slot.stderr + d.toString('utf8')).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    const onMsg = (m: { ready?: boolean }) => {
      if (m.ready) {
        child.off('message', onMsg);
        child.off('exit', onExit);
        resolve(slot);
      }
    };
    const onExit = (code: number | null, sig: string | null) => reject(new Error(`fuzz worker failed to start (exit ${code}, signal ${sig}): ${slot.stderr}`));
    child.on('message', onMsg);
    child.once('exit', onExit);
  });
}

function kill(slot: Slot): Promise<void> {
  return new Promise((resolve) => {
    if (slot.child.exitCode !== null || slot.child.signalCode !== null) return resolve();
    slot.child.once('exit', () => resolve());
    slot.child.kill('SIGKILL');
  });
}

/** Sends one case; resolves with its result, or with crash/hang after killing the worker. */
function serve(slot: Slot, c: FuzzCase, out: string, timeoutMs: number): Promise<{ result: CaseResult; workerGone: boolean }> {
  const base = { index: c.index, base: c.base, mutations: c.mutations };
  return new Promise((resolve) => {
    const done = (result: CaseResult, workerGone: boolean) => {
      clearTimeout(timer);
      slot.child.off('message', onMsg);
      slot.child.off('exit', onExit);
      resolve({ result, workerGone });
    };
    const onMsg = (m: { index?: number; results?: CommandResult[]; fatal?: string; detail?: string }) => {
      if (m.fatal) {
        done({ ...base, outcome: 'crash', commands: [], detail: `${m.fatal}: ${m.detail}` }, true);
        return;
      }
      if (m.index !== c.index || !m.results) return;
      const outcome = m.results.reduce<Outcome>((w, r) => (RANK[r.outcome] > RANK[w] ? r.outcome : w), 'ok');
      done({ ...base, outcome, commands: m.results }, false);
    };
    const onExit = (code: number | null, sig: string | null) => done({ ...base, outcome: 'crash', commands: [], detail: `worker exited (code ${code}, signal ${sig}); stderr: ${slot.stderr}` }, true);
    const timer = setTimeout(() => done({ ...base, outcome: 'hang', commands: [], detail: `no answer within ${timeoutMs} ms` }, true), timeoutMs);
    slot.child.on('message', onMsg);
    slot.child.once('exit', onExit);
    slot.child.send({ case: c, out });
  });
}

export async function runFuzz(o: FuzzOptions): Promise<FuzzSummary> {
  const t0 = performance.now();
  const start = o.start ?? 0;
  const timeoutMs = o.timeoutMs ?? 30_000;
  const recycle = o.recycleAfter ?? 2000;
  const bases: Base[] = prepareBases(o.workDir);
  const casesDir = join(o.workDir, 'cases');
  const outsDir = join(o.workDir, 'outs');
  mkdirSync(casesDir, { recursive: true });
  mkdirSync(outsDir, { recursive: true });
  const outcomes: Record<Outcome, number> = { ok: 0, coded: 0, uncoded: 0, crash: 0, hang: 0 };
  const codes: Record<string, number> = {};
  const failures: CaseResult[] = [];
  let trtllmOk = 0;
  let maxMs = 0;
  let next = start;
  let done = 0;

  const record = (c: FuzzCase, r: CaseResult) => {
    outcomes[r.outcome]++;
    for (const cmd of r.commands) {
      if (cmd.code) codes[`${cmd.cmd} ${cmd.code}`] = (codes[`${cmd.cmd} ${cmd.code}`] ?? 0) + 1;
      if (cmd.cmd === 'trtllm' && cmd.outcome === 'ok') trtllmOk++;
      maxMs = Math.max(maxMs, cmd.ms);
    }
    if (r.outcome !== 'ok' && r.outcome !== 'coded') {
      failures.push(r);
      if (o.findingsDir) {
        const d = join(o.findingsDir, `${o.seed}-${c.index}`);
        mkdirSync(d, { recursive: true });
        try {
          cpSync(c.dir, join(d, 'input'), { recursive: true });
        } catch {
          // the input may be partly gone (tree mutations); the result still says how to re-create it
        }
        writeFileSync(join(d, 'result.json'), JSON.stringify({ seed: o.seed, ...r, trtllmArgs: c.trtllmArgs, hf: c.hf }, null, 2));
      }
    }
    rmSync(c.dir, { recursive: true, force: true });
    done++;
    o.onResult?.(r, done);
  };

  const lane = async (w: number) => {
    let slot: Slot | null = null;
    try {
      while (next < start + o.count) {
        const index = next++;
        const c = makeCase(bases, o.seed, index, casesDir);
        slot ??= await spawnWorker();
        const out = join(outsDir, `w${w}`);
        const { result, workerGone } = await serve(slot, c, out, timeoutMs);
        slot.served++;
        if (workerGone || slot.served >= recycle) {
          await kill(slot);
          slot = null;
          // a killed worker cleaned nothing up
          rmSync(out, { recursive: true, force: true });
          rmSync(`${out}-hf`, { recursive: true, force: true });
        }
        record(c, result);
      }
    } finally {
      if (slot) await kill(slot);
    }
  };
  await Promise.all(Array.from({ length: o.workers ?? 2 }, (_, w) => lane(w)));
  return { seed: o.seed, inputs: done, seconds: (performance.now() - t0) / 1000, outcomes, codes, failures, trtllmOk, maxMs };
}

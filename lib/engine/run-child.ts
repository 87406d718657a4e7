/**
 * Runs an executable as a child process (never through a shell), streams its output line by line, keeps the
 * last lines for error messages, and turns an AbortSignal into SIGTERM, then SIGKILL after a grace period.
 *
 * The child leads its own process group, so a cancel also reaches the workers it spawned (trtllm-build
 * --workers N builds ranks in a process pool).
 */
import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { ExportError, fail } from '../errors.js';

export type OutputStream = 'stdout' | 'stderr';

export interface RunChildOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** every complete line (`\n` or `\r` ended, terminator removed) as it arrives */
  onLine?: (line: string, stream: OutputStream) => void;
  signal?: AbortSignal;
  /** time between SIGTERM and SIGKILL after an abort (default 10 s) */
  killGraceMs?: number;
  /** how many of the last lines to keep (default 40) */
  tailLines?: number;
}

export interface ChildResult {
  /** exit code, null when a signal ended it */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** true when the run was cancelled through `signal` */
  aborted: boolean;
  /** true when SIGKILL had to follow SIGTERM */
  killed: boolean;
  /** the last lines of stdout and stderr, interleaved in arrival order */
  tail: string[];
  durationMs: number;
}

/** Splits a byte stream into lines; `\r` counts as a line end so progress bars become lines. */
class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private rest = '';
  constructor(private readonly emit: (line: string) => void) {}
  push(chunk: Buffer): void {
    const text = this.rest + this.decoder.write(chunk);
    const parts = text.split(/\r\n|\n|\r/);
    this.rest = parts.pop() ?? '';
    for (const p of parts) this.emit(p);
  }
  end(): void {
    const text = this.rest + this.decoder.end();
    this.rest = '';
    if (text.length > 0) this.emit(text);
  }
}

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

/**
 * Resolves when the child has exited (any exit code); rejects only when it could not be started
 * (E_NOT_FOUND) or the signal was already aborted (E_ABORTED). Callers decide what a non-zero code means.
 */
export function runChild(file: string, args: readonly string[], options: RunChildOptions = {}): Promise<ChildResult> {
  const { signal, onLine } = options;
  const grace = options.killGraceMs ?? 10_000;
  const keep = options.tailLines ?? 40;
  if (signal?.aborted) fail('E_ABORTED', `not started: cancelled before launch of ${file}`);

  return new Promise<ChildResult>((resolve, reject) => {
    const started = Date.now();
    const tail: string[] = [];
    let aborted = false;
    let killed = false;
    let killTimer: NodeJS.Timeout | undefined;

    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group: cancel reaches the whole tree
      shell: false,
    });

    const onAbort = (): void => {
      if (aborted || child.pid === undefined || child.exitCode !== null) return;
      aborted = true;
      signalGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => {
        killed = true;
        signalGroup(child.pid!, 'SIGKILL');
      }, grace);
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    const line = (stream: OutputStream) => (l: string) => {
      tail.push(l);
      if (tail.length > keep) tail.shift();
      onLine?.(l, stream);
    };
    const out = new LineSplitter(line('stdout'));
    const err = new LineSplitter(line('stderr'));
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => err.push(c));

    child.once('error', (e: NodeJS.ErrnoException) => {
      signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      const why = e.code === 'ENOENT' ? 'does not exist' : e.code === 'EACCES' ? 'is not executable' : `could not be started (${e.code ?? e.message})`;
      reject(new ExportError('E_NOT_FOUND', `${file} ${why}`, { file, cause: e }));
    });

    // 'close' waits for the pipes too, so every line has been delivered before we resolve.
    child.once('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      out.end();
      err.end();
      // A leftover of the group (a worker that ignored SIGTERM) must not outlive a cancelled run.
      if (aborted && child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
      resolve({ code, signal: sig, aborted, killed, tail, durationMs: Date.now() - started });
    });
  });
}

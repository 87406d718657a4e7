// How the CLI runs an export: a progress bar on stderr (a TTY only), and SIGINT, SIGTERM and SIGHUP (Ctrl-C, a
// Slurm time limit, Kubernetes, `timeout`, a closed terminal) all cancel it the same way: the export stops, removes
// its temporaries, leaves any previous output as it was and fails with E_ABORTED; the process then exits with the
// shell's code for that signal (128 + its number, see exitCodeFor).
import { constants } from 'node:os';
import { ProgressBar, type Progress } from '../export/progress.js';

export const CANCEL_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type CancelSignal = (typeof CANCEL_SIGNALS)[number];

/** The last signal that cancelled a run, for the exit code. */
let received: CancelSignal | null = null;

/** 130, 143, 129 after a cancel by SIGINT, SIGTERM, SIGHUP; null when no signal cancelled. */
export function exitCodeForSignal(): number | null {
  return received === null ? null : 128 + constants.signals[received];
}

/** Runs `run` with an AbortSignal that the cancel signals trigger (handlers removed afterwards). */
export async function withCancelSignals<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  received = null;
  const onSignal = (sig: CancelSignal): void => {
    received ??= sig;
    controller.abort();
  };
  for (const s of CANCEL_SIGNALS) process.on(s, onSignal);
  try {
    return await run(controller.signal);
  } finally {
    for (const s of CANCEL_SIGNALS) process.off(s, onSignal);
  }
}

export async function withProgress<T>(label: string, run: (signal: AbortSignal, onProgress: (p: Progress) => void) => Promise<T>): Promise<T> {
  const bar = new ProgressBar(process.stderr, label);
  try {
    return await withCancelSignals((signal) => run(signal, (p) => bar.update(p)));
  } finally {
    bar.done();
  }
}

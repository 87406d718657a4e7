// How the CLI runs an export: a progress bar on stderr (a TTY only) and Ctrl-C as an abort, so the export
// removes its temporaries instead of being killed halfway through writing.
import { ProgressBar, type Progress } from '../export/progress.js';

export async function withProgress<T>(label: string, run: (signal: AbortSignal, onProgress: (p: Progress) => void) => Promise<T>): Promise<T> {
  const bar = new ProgressBar(process.stderr, label);
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  try {
    return await run(controller.signal, (p) => bar.update(p));
  } finally {
    process.off('SIGINT', onSignal);
    bar.done();
  }
}

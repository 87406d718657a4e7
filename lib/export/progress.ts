/** Progress of an export in bytes written. */
export interface Progress {
  readonly bytesDone: number;
  readonly bytesTotal: number;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let x = n;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${x.toFixed(x < 10 ? 2 : 1)} ${units[i]}`;
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/**
 * A one-line progress bar for a terminal (bytes, rate, ETA), redrawn at most every `intervalMs`.
 * Draws nothing unless the stream is a TTY, so piped output and --json stay clean.
 */
export class ProgressBar {
  private readonly start = performance.now();
  private last = 0;
  private drawn = false;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly label: string,
    private readonly intervalMs = 100,
  ) {}

  get enabled(): boolean {
    return Boolean(this.stream.isTTY);
  }

  update(p: Progress, force = false): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (!force && now - this.last < this.intervalMs) return;
    this.last = now;
    this.stream.write(`\r${renderProgressLine(this.label, p, (now - this.start) / 1000, this.stream.columns ?? 80)}\x1b[K`);
    this.drawn = true;
  }

  done(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}

/** The text of one progress line: `label [####----] 41% 1.2 GiB/2.9 GiB 3.1 GiB/s ETA 00:01`. */
export function renderProgressLine(label: string, p: Progress, elapsedS: number, columns: number): string {
  const frac = p.bytesTotal > 0 ? Math.min(1, p.bytesDone / p.bytesTotal) : 1;
  const rate = elapsedS > 0 ? p.bytesDone / elapsedS : 0;
  const eta = rate > 0 ? (p.bytesTotal - p.bytesDone) / rate : Infinity;
  const tail = ` ${String(Math.floor(frac * 100)).padStart(3)}% ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)} ${formatBytes(rate)}/s ETA ${formatSeconds(eta)}`;
  const width = Math.max(10, Math.min(40, columns - label.length - tail.length - 4));
  const fill = Math.round(frac * width);
  return `${label} [${'#'.repeat(fill)}${'-'.repeat(width - fill)}]${tail}`;
}

import { formatBytes } from './progress.js';

/** What an export wrote. */
export interface ExportSummary {
  readonly outDir: string;
  readonly files: readonly { readonly path: string; readonly bytes: number; readonly sha256?: string | undefined }[];
  readonly bytes: number;
  readonly seconds: number;
}

export function gbPerSecond(s: Pick<ExportSummary, 'bytes' | 'seconds'>): number {
  return s.seconds > 0 ? s.bytes / s.seconds / 1e9 : 0;
}

/** Human summary: one line per file and a total with throughput. */
export function formatSummary(s: ExportSummary): string {
  const lines = s.files.map((f) => `  ${f.path}  ${formatBytes(f.bytes)}${f.sha256 ? `  sha256 ${f.sha256}` : ''}`);
  lines.push(`${s.files.length} files, ${formatBytes(s.bytes)} in ${s.seconds.toFixed(2)} s (${gbPerSecond(s).toFixed(2)} GB/s) → ${s.outDir}`);
  return lines.join('\n');
}

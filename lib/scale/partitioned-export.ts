/**
 * A partitioned TensorRT-LLM export: this process writes only its share of the output rank files, chosen
 * from its launch place (--rank/--world-size, or the launcher's environment when asked with 'auto'). No process
 * talks to another; they only share the output directory, so srun, mpirun, torchrun or `&` in a shell launch it
 * as it is. Each share replaces only its own files, each atomically (lib/export/atomic-output.ts).
 */
import type { Checkpoint } from '../megatron/types.js';
import { exportTrtllm, type ExportTrtllmOptions, type ExportTrtllmResult } from '../trtllm/export.js';
import { assignOutputRanks, resolveLaunchPlace, type LaunchPlace, type RankAssignment } from './launch.js';

export interface PartitionedExportOptions extends Omit<ExportTrtllmOptions, 'ranks'> {
  /** this process's place; 'auto' reads the launcher's environment (resolveLaunchPlace({ rank: 'auto' })) */
  readonly place: LaunchPlace | 'auto';
  /** default round-robin */
  readonly assignment?: RankAssignment;
}

export interface PartitionedExportResult {
  readonly place: LaunchPlace;
  /** output ranks this process wrote (may be empty when there are more processes than output ranks) */
  readonly ranks: readonly number[];
  readonly writesConfig: boolean;
  /** null when this process had nothing to write */
  readonly export: ExportTrtllmResult | null;
}

/** What a partitioned run reports about itself (stderr, summary, --json): which share, and that it is one. */
export interface ShareReport {
  readonly rank: number;
  readonly worldSize: number;
  readonly source: LaunchPlace['source'];
  readonly outputRanks: readonly number[];
  readonly writesConfig: boolean;
  /** always false: this process cannot know whether the other shares have finished */
  readonly complete: false;
  readonly note: string;
}

export function shareReport(place: LaunchPlace, outputRanks: readonly number[], outDir: string): ShareReport {
  const writesConfig = outputRanks.includes(0);
  const what = outputRanks.length === 0
    ? 'no output ranks (there are more processes than output ranks)'
    : `output rank${outputRanks.length === 1 ? '' : 's'} ${outputRanks.join(', ')}${writesConfig ? ' and config.json' : ''}`;
  const from = place.source === 'flags' ? '--rank/--world-size' : `$${place.source.replace('/', ', $')}`;
  return {
    rank: place.rank,
    worldSize: place.worldSize,
    source: place.source,
    outputRanks,
    writesConfig,
    complete: false,
    note: `share ${place.rank} of ${place.worldSize} (from ${from}) writes ${what} into ${outDir}; the directory is incomplete until ` +
      `every one of the ${place.worldSize} shares has finished (check with: mcore-export verify ${outDir})`,
  };
}

export async function exportTrtllmShare(ckpt: Checkpoint, o: PartitionedExportOptions): Promise<PartitionedExportResult> {
  const place = o.place === 'auto' ? resolveLaunchPlace({ rank: 'auto' }) : o.place;
  const { place: _p, assignment, ...exportOptions } = o;
  const world = (o.tpSize ?? 1) * (o.ppSize ?? 1);
  const ranks = assignOutputRanks(world, place, assignment ?? 'round-robin');
  const writesConfig = ranks.includes(0);
  if (ranks.length === 0) return { place, ranks, writesConfig, export: null };
  if (place.worldSize === 1) return { place, ranks, writesConfig, export: await exportTrtllm(ckpt, exportOptions) };
  return { place, ranks, writesConfig, export: await exportTrtllm(ckpt, { ...exportOptions, ranks }) };
}

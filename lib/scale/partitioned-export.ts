/**
 * A partitioned TensorRT-LLM export: this process writes only its share of the output rank files, chosen
 * from its launch place (--rank/--world-size or the launcher's environment). No process talks to another;
 * they only share the output directory, so srun, mpirun, torchrun or `&` in a shell launch it as it is.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Checkpoint } from '../megatron/types.js';
import { exportTrtllm, type ExportTrtllmOptions, type ExportTrtllmResult } from '../trtllm/export.js';
import { assignOutputRanks, resolveLaunchPlace, type LaunchPlace, type RankAssignment } from './launch.js';
import { ownsShareFile } from './share.js';

export interface PartitionedExportOptions extends Omit<ExportTrtllmOptions, 'ranks'> {
  /** default: resolveLaunchPlace() from the environment */
  readonly place?: LaunchPlace;
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

/**
 * Options that make exportTrtllm write one share of a multi-process export into a directory other processes
 * write too: `force` (which replaces only this share's own files), after removing temporaries that a killed
 * earlier run of this same share left behind. Others' files are never touched.
 */
export function shareExportOptions(outDir: string, ranks: readonly number[], dryRun = false): { ranks: readonly number[]; force: true } {
  const writesConfig = ranks.includes(0);
  let names: string[] = [];
  try {
    names = dryRun ? [] : readdirSync(outDir);
  } catch {
    names = []; // not created yet
  }
  for (const n of names) if (n.startsWith('.') && ownsShareFile(n, ranks, writesConfig)) rmSync(join(outDir, n), { force: true });
  return { ranks, force: true };
}

export async function exportTrtllmShare(ckpt: Checkpoint, o: PartitionedExportOptions): Promise<PartitionedExportResult> {
  const place = o.place ?? resolveLaunchPlace();
  const { place: _p, assignment, ...exportOptions } = o;
  const world = (o.tpSize ?? 1) * (o.ppSize ?? 1);
  const ranks = assignOutputRanks(world, place, assignment ?? 'round-robin');
  const writesConfig = ranks.includes(0);
  if (ranks.length === 0) return { place, ranks, writesConfig, export: null };
  if (place.worldSize === 1) return { place, ranks, writesConfig, export: await exportTrtllm(ckpt, exportOptions) };
  const res = await exportTrtllm(ckpt, { ...exportOptions, ...shareExportOptions(o.outDir, ranks, o.dryRun) });
  return { place, ranks, writesConfig, export: res };
}

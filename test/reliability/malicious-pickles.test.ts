// Hostile pickles inside otherwise complete checkpoint directories (a legacy model_optim_rng.pt whose data.pkl
// is replaced, a torch_dist whose .metadata is replaced), run through the CLI as a real process: every command
// refuses with a coded error and nothing runs — the canary file the payload would create never appears.
// Each payload is first shown to be live: Python's own pickle.loads on it does create the canary.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readZip } from '../../lib/formats/zip.js';
import { rewriteTorchZip } from '../support/torch-archive.js';
import { cli } from '../support/cli.js';
import { copyFixture } from '../support/files.js';
import { FIXTURES } from '../support/fixtures.js';
import { interopPython } from '../support/python.js';

const work = mkdtempSync(join(tmpdir(), 'mcore-evil-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const b = (...parts: (string | Uint8Array | number[])[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p as Uint8Array))));
/** BINUNICODE */
const str = (s: string) => {
  const u = Buffer.from(s, 'utf8');
  const h = Buffer.alloc(5);
  h[0] = 0x58;
  h.writeUInt32LE(u.length, 1);
  return Buffer.concat([h, u]);
};
const short = (s: string) => b([0x8c, Buffer.byteLength(s)], s);
const TUPLE1 = [0x85];

const LEGACY_PT = 'iter_0000010/mp_rank_00/model_optim_rng.pt';
const realLegacyPickle = (() => {
  const path = join(FIXTURES, 'megatron/llama/torch/tp1pp1', LEGACY_PT);
  const e = [...readZip(path).entries.values()].find((x) => x.name.endsWith('/data.pkl'))!;
  return readFileSync(path).subarray(e.dataOffset, e.dataOffset + e.size);
})();

interface Payload {
  name: string;
  /** the pickle bytes, given the canary path */
  make: (canary: string) => Buffer;
  /** Python needs torch to resolve the outer global */
  needsTorch?: boolean;
  /** codes that count as a refusal (default E_SECURITY only) */
  codes?: string[];
}

const touch = (c: string) => `touch ${c}`;
const PAYLOADS: Payload[] = [
  { name: 'os.system via GLOBAL+REDUCE', make: (c) => b('\x80\x02cos\nsystem\n', str(touch(c)), TUPLE1, 'R.') },
  { name: 'builtins.eval', make: (c) => b('\x80\x02cbuiltins\neval\n', str(`open(${JSON.stringify(c)}, 'w').close()`), TUPLE1, 'R.') },
  { name: 'subprocess.Popen via STACK_GLOBAL', make: (c) => b([0x80, 0x04], short('subprocess'), short('Popen'), [0x93], '](', str('touch'), str(c), 'e', TUPLE1, 'R.') },
  { name: 'os.system nested in the args of an allowed OrderedDict', make: (c) => b('\x80\x02ccollections\nOrderedDict\n(cos\nsystem\n', str(touch(c)), TUPLE1, 'RtR.') },
  {
    name: 'builtins.exec nested in the args of torch._utils._rebuild_tensor_v2',
    needsTorch: true,
    make: (c) => b('\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(cbuiltins\nexec\n', str(`open(${JSON.stringify(c)}, 'w').close()`), TUPLE1, 'RK\x00))\x89ccollections\nOrderedDict\n)RtR.'),
  },
  { name: 'getattr(__import__("os"), "system")', make: (c) => b('\x80\x02cbuiltins\ngetattr\n(cbuiltins\n__import__\n', str('os'), TUPLE1, 'R', str('system'), 'tR', str(touch(c)), TUPLE1, 'R.') },
  { name: 'posix.system hidden before the real checkpoint pickle', make: (c) => b('\x80\x02cposix\nsystem\n', str(touch(c)), TUPLE1, 'R0', realLegacyPickle.subarray(2)) },
  { name: 'os.system via INST', make: (c) => b('(', str(touch(c)), 'ios\nsystem\n.'), codes: ['E_SECURITY', 'E_UNSUPPORTED'] },
];

const VENV_PY = interopPython();
const hasTorch = existsSync(VENV_PY) && spawnSync(VENV_PY, ['-c', 'import torch'], { timeout: 60_000 }).status === 0;
const hasPython = spawnSync('python3', ['-c', 'import pickle'], { timeout: 10_000 }).status === 0;
if (!hasPython) console.warn('the "payload is live under Python" checks are skipped: no python3 on PATH');
else if (!hasTorch) console.warn(`the torch-payload liveness checks are skipped: no ${VENV_PY} with torch (scripts/interop-venv.sh makes one)`);

describe('malicious pickles in full checkpoint directories', () => {
  for (const [i, p] of PAYLOADS.entries()) {
    it.skipIf(!hasPython || (p.needsTorch && !hasTorch))(`payload is live under Python's pickle: ${p.name}`, () => {
      const canary = join(work, `py-canary-${i}`);
      const file = join(work, `py-payload-${i}.pkl`);
      writeFileSync(file, p.make(canary));
      spawnSync(p.needsTorch ? VENV_PY : 'python3', ['-c', 'import pickle,sys\ntry: pickle.loads(open(sys.argv[1],"rb").read())\nexcept Exception: pass', file], { timeout: 60_000 });
      expect(existsSync(canary), 'the payload must be dangerous for this test to mean anything').toBe(true);
    });

    for (const format of ['torch', 'torch_dist'] as const) {
      it(`${format}: ${p.name} is refused by inspect, trtllm and hf; nothing runs, nothing is written`, () => {
        const dir = copyFixture(`megatron/llama/${format}/tp1pp1`, join(work, `${format}-${i}`));
        const canary = join(work, `canary-${format}-${i}`);
        const evil = p.make(canary);
        if (format === 'torch') writeFileSync(join(dir, LEGACY_PT), rewriteTorchZip(join(dir, LEGACY_PT), { 'data.pkl': evil }));
        else writeFileSync(join(dir, 'iter_0000010', '.metadata'), evil);
        const codes = p.codes ?? ['E_SECURITY'];
        for (const cmd of ['inspect', 'trtllm', 'hf']) {
          const out = join(work, `out-${format}-${i}-${cmd}`);
          const r = cli(cmd === 'inspect' ? [cmd, dir] : [cmd, dir, '--out', out]);
          expect(r.status, `${cmd}: ${r.stderr}`).toBe(1);
          const m = new RegExp(`^mcore-export ${cmd}: (E_[A-Z_]+): `).exec(r.stderr);
          expect(m?.[1], r.stderr).toBeOneOf(codes);
          expect(r.stderr).toContain(format === 'torch' ? 'model_optim_rng.pt' : '.metadata');
          expect(existsSync(out), `${cmd} created its output directory`).toBe(false);
        }
        expect(existsSync(canary)).toBe(false);
      });
    }
  }
});

# Converts the values in a raw f32/f16/bf16 file with torch and writes each result next to it.
# Usage: python torch-crosscheck.py DIR   (DIR holds f32.bin, f16.bin, bf16.bin; results go to DIR/<src>-<op>.bin)
import sys, os, torch
d = sys.argv[1]
src = {
    'float32': torch.from_file(os.path.join(d, 'float32.bin'), size=os.path.getsize(os.path.join(d, 'float32.bin')) // 4, dtype=torch.float32),
    'float16': torch.from_file(os.path.join(d, 'float16.bin'), size=os.path.getsize(os.path.join(d, 'float16.bin')) // 2, dtype=torch.float16),
    'bfloat16': torch.from_file(os.path.join(d, 'bfloat16.bin'), size=os.path.getsize(os.path.join(d, 'bfloat16.bin')) // 2, dtype=torch.bfloat16),
}
dst = {'float32': torch.float32, 'float16': torch.float16, 'bfloat16': torch.bfloat16, 'float8_e4m3fn': torch.float8_e4m3fn, 'float8_e5m2': torch.float8_e5m2}
def save(t, name):
    t.contiguous().view(torch.uint8).numpy().tofile(os.path.join(d, name))
for sn, t in src.items():
    for dn, dt in dst.items():
        if dn != sn:
            save(t.to(dt), f'{sn}-{dn}.bin')
    # Megatron's layernorm-1p: weight + 1 in the weight's dtype; fp8 scaling: float(x) * scale
    save(t + 1.0, f'{sn}-add1.bin')
    save((t.float() * 0.37).to(torch.float8_e4m3fn), f'{sn}-mul-e4m3.bin')
print(torch.__version__)

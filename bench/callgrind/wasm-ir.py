# Ir per wasm function from a callgrind dump (--dump-instr=yes) and the code ranges in
# node --print-wasm-code output: python3 wasm-ir.py CODE_TXT CALLGRIND_OUT SHAPE ITERS (run.sh runs it).
import sys, re, bisect
code, cg, shape, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
r, k = map(int, shape.split('x')); logits = r * k * n
ranges = []  # (start, end, name)
cur = None; first = None; last = None
for line in open(code, errors='replace'):
    m = re.match(r'name: (.*)', line)
    if m:
        if cur and first is not None: ranges.append((first, last + 16, cur))
        cur = m.group(1).strip(); first = None; continue
    m = re.match(r'(0x[0-9a-f]+)\s+[0-9a-f]+\s+[0-9a-f]+\s', line)
    if m and cur:
        a = int(m.group(1), 16)
        if first is None: first = a
        last = a
if cur and first is not None: ranges.append((first, last + 16, cur))
ranges.sort(); starts = [x[0] for x in ranges]
tot = {}; total = 0; skip = False
for line in open(cg, errors='replace'):
    if line.startswith('calls='): skip = True; continue
    if line[:2] == '0x':
        if skip: skip = False; continue
        parts = line.split()
        a = int(parts[0], 16); ir = int(parts[2]) if len(parts) > 2 else 0
        total += ir
        i = bisect.bisect_right(starts, a) - 1
        if i >= 0 and a < ranges[i][1]:
            tot[ranges[i][2]] = tot.get(ranges[i][2], 0) + ir
    else:
        skip = False  # any other line ends a call's cost line (calls= lines were handled above)
print(f'total Ir {total}, wasm {sum(tot.values())}, logits {logits}')
for name, v in sorted(tot.items(), key=lambda x: -x[1])[:12]:
    print(f'  {name:30s} {v:14d}  {v/logits:8.3f} /logit')

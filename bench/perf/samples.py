#!/usr/bin/env python3
"""Samples of `perf record -e cpu-clock` mapped onto V8's --print-wasm-code dump (bench/perf/run.sh).

  samples.py CODE IPS                 per wasm function and code space: samples, body size
  samples.py CODE IPS SPACE INDEX     that function's hot regions (runs of sampled instructions)

A code space is the first 8 hex digits of a function's address: each wasm module instance
compiles into its own, so two builds in one process are told apart by it."""
import bisect, collections, re, sys

def functions(path):
    out = []
    for part in open(path).read().split('--- WebAssembly code ---'):
        index = re.search(r'index: (\d+)', part)
        first = re.search(r'\n(0x[0-9a-f]+)\s', part)
        size = re.search(r'Body \(size = (\d+)', part)
        if not (index and first and size) or 'compiler: TurboFan' not in part:
            continue
        lines = []
        for line in part.split('\n'):
            m = re.match(r'(0x[0-9a-f]+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+(.*)', line)
            if m:
                lines.append((int(m.group(1), 16), m.group(2), m.group(3)))
        start = int(first.group(1), 16)
        out.append((start, start + int(size.group(1)), index.group(1), lines))
    return sorted(out)

def main():
    fs = functions(sys.argv[1])
    starts = [f[0] for f in fs]
    ips = [int(l.strip(), 16) for l in open(sys.argv[2]) if l.strip()]
    if len(sys.argv) == 3:
        count, other = collections.Counter(), 0
        for ip in ips:
            i = bisect.bisect_right(starts, ip) - 1
            if i >= 0 and ip < fs[i][1]:
                count[(hex(fs[i][0])[:8], fs[i][2], fs[i][1] - fs[i][0])] += 1
            else:
                other += 1
        print('space      function  body bytes  samples')
        for (space, index, size), n in sorted(count.items()):
            print(f'{space}  {index:>8}  {size:>10}  {n:>7}')
        print(f'outside wasm code: {other} of {len(ips)}')
        return
    space, index = sys.argv[3], sys.argv[4]
    f = next(f for f in fs if hex(f[0]).startswith(space) and f[2] == index)
    addrs = [a for a, _, _ in f[3]]
    hits = collections.Counter()
    for ip in ips:
        i = bisect.bisect_right(addrs, ip) - 1
        if 0 <= i and f[0] <= ip < f[1]:
            hits[i] += 1
    regions, cur, gap = [], None, 0
    for i, (_, off, _) in enumerate(f[3]):
        if hits[i]:
            cur = cur or [off, off, 0, 0]
            cur[1], cur[2], gap = off, cur[2] + hits[i], 0
        elif cur:
            gap += 1
            if gap > 12:
                regions.append(cur)
                cur = None
        if cur:
            cur[3] += 1
    if cur:
        regions.append(cur)
    print(f'function {index} in {space}: {sum(hits.values())} samples; hot regions (offsets, samples, instructions):')
    for first, last, n, length in sorted(regions, key=lambda r: -r[2])[:12]:
        print(f'  {first:>5}–{last:<5} {n:>7} {length:>5}')

main()

#!/bin/bash
# Where two builds spend their time, per wasm function: perf's cpu-clock samples (software
# events: this VM has no hardware counters) mapped onto V8's own disassembly of each build, both
# builds in one process taking turns (bench/perf/drive.mjs). The README's sample shares
# (Limits, "Keeping S − 1 apart") come from this.
#
#   bench/perf/run.sh ROOT_A ROOT_B SHAPE [SECONDS] [BACKEND] [MODE]
#   e.g. bench/perf/run.sh /tmp/ab-base . 4096x1000 20 wasm-simd loss
#
# Prints the drive's B ÷ A and the samples per function and code space (one space per build:
# A's functions are at the addresses of its instance). Then
#   python3 bench/perf/samples.py $out/code.txt $out/ips.txt SPACE INDEX
# lists a function's hot regions. Needs perf (Debian's linux-perf). Files go to
# ${PERF_OUT:-/tmp/perf-ab}.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
a=$1; b=$2; shape=$3; seconds=${4:-20}; backend=${5:-wasm-simd}; mode=${6:-loss}
out=${PERF_OUT:-/tmp/perf-ab}
mkdir -p "$out"
perf record -q -D 3000 -e cpu-clock -F 2000 -o "$out/perf.data" \
  node --no-liftoff --print-wasm-code "$here/drive.mjs" "$a" "$b" "$shape" "$seconds" "$backend" "$mode" > "$out/code.txt" 2> "$out/drive.log"
grep "B ÷ A" "$out/drive.log"
perf script -i "$out/perf.data" -F ip 2>/dev/null > "$out/ips.txt"
python3 "$here/samples.py" "$out/code.txt" "$out/ips.txt"

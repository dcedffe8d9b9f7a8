#!/bin/bash
# Instructions per logit in the wasm kernels (V8's TurboFan code), counted by callgrind: the
# same for the same build and inputs whatever else the machine does. The README's instruction
# counts (Limits, "Keeping S − 1 apart") come from this.
#
#   bench/callgrind/run.sh ROOT BACKEND MODE SHAPE ITERS [hard|soft]
#   e.g. bench/callgrind/run.sh . wasm-simd loss 8192x10 20
#
# ROOT: a built checkout (its dist/). Prints the process's total Ir, the Ir inside wasm
# functions (their code ranges from --print-wasm-code) and the top functions per logit.
# Needs valgrind (Debian's package) and python3. Files go to ${CALLGRIND_OUT:-/tmp/callgrind}.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$1; backend=$2; mode=$3; shape=$4; n=$5; call=${6:-hard}
out=${CALLGRIND_OUT:-/tmp/callgrind}
mkdir -p "$out"
tag=$(basename "$(cd "$root" && pwd)")-$backend-$mode-$shape-$n-$call
valgrind --tool=callgrind --dump-instr=yes --compress-pos=no --compress-strings=no --callgrind-out-file="$out/cg-$tag.out" \
  node --no-liftoff --print-wasm-code "$here/drive.mjs" "$root" "$backend" "$mode" "$shape" "$n" "$call" > "$out/code-$tag.txt" 2> "$out/vg-$tag.log"
echo "== $tag"
python3 "$here/wasm-ir.py" "$out/code-$tag.txt" "$out/cg-$tag.out" "$shape" "$n"

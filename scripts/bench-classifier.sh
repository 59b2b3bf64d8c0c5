#!/usr/bin/env bash
# Classifier throughput and latency: overhear (Rust, rust-bert) against the Python
# transformers pipeline, same machine, same run, same weights, same texts, same
# threads. Usage: scripts/bench-classifier.sh [THREADS] [TEXTS]
# Needs the labelled sentiment dev.tsv: OVERHEAR_BENCH_DATA=path/to/dev.tsv (it is not in
# the repository; models/train/README.md says where it comes from).
# Creates .venv-bench (torch==2.4.0 + transformers, about 2.8 GB) on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
texts=${2:-1000}
model=${OVERHEAR_BENCH_MODEL:-models/sentiment}
data=${OVERHEAR_BENCH_DATA:-}
if [ -z "$data" ] || [ ! -f "$data" ]; then
  echo "bench-classifier: set OVERHEAR_BENCH_DATA to the labelled sentiment dev.tsv (id, source, label, score, text);" >&2
  echo "  models/train/README.md says where the data comes from. Skipping." >&2
  exit 0
fi
data=$(realpath "$data")
venv=.venv-bench
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet torch==2.4.0 transformers==4.44.2
fi
scripts/libtorch.sh >/dev/null
cargo bench --bench classifier --no-run 2>/dev/null
out=$(mktemp -d)
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== python transformers pipeline"
OMP_NUM_THREADS=$threads "$venv/bin/python" scripts/bench/python_pipeline.py "$model" "$data" "$threads" "$texts" | tee "$out/python.json"
echo "== overhear (rust-bert)"
OVERHEAR_BENCH_OUT="$out/rust.json" OVERHEAR_BENCH_THREADS=$threads OVERHEAR_BENCH_TEXTS=$texts \
  OVERHEAR_BENCH_MODEL=$model OVERHEAR_BENCH_DATA=$data cargo bench --bench classifier
echo "== ratios (rust / python)"
python3 - "$out/python.json" "$out/rust.json" <<'PY'
import json, sys
py, rs = (json.load(open(p)) for p in sys.argv[1:3])
best_py = max(py["texts_per_s"].values())
limit = rs["compute_limit_texts_per_s"]
print(f"python: best {best_py:.1f} texts/s, p50 {py['latency_ms']['p50']:.2f} ms, p99 {py['latency_ms']['p99']:.2f} ms")
for name, r in rs["by_precision"].items():
    print(f"-- rust {name}")
    for b in ("1", "8", "32", "64"):
        print(f"batch {b:>2}: rust {r['texts_per_s'][b]:7.1f}  python {py['texts_per_s'][b]:7.1f}  x{r['texts_per_s'][b] / py['texts_per_s'][b]:.2f}")
    print(f"whole set (length buckets): rust {r['texts_per_s_bucketed']:.1f} texts/s")
    best = r["best_texts_per_s"]
    print(f"best: rust {best:.1f} vs python {best_py:.1f} texts/s: x{best / best_py:.2f} (target >= 1.5)")
    print(f"p50 latency: rust {r['latency_ms']['p50']:.2f} ms vs python {py['latency_ms']['p50']:.2f} ms: x{r['latency_ms']['p50'] / py['latency_ms']['p50']:.2f} (target <= 0.6)")
    print(f"p99 latency: rust {r['latency_ms']['p99']:.2f} ms vs python {py['latency_ms']['p99']:.2f} ms")
    print(f"f32 compute limit {limit:.0f} texts/s; rust {name} achieves {100 * best / limit:.0f}% (target >= 60%)")
print(f"matmul peak: rust/libtorch f32 {rs['matmul_gflops']:.1f} (bf16 {rs['matmul_gflops_bf16']:.1f}), python/torch f32 {py['matmul_gflops']:.1f} GFLOP/s")
PY

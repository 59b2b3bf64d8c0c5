#!/usr/bin/env bash
# Pipeline throughput and memory: posts/s from a fixture RSS source through matcher,
# store, classifier and alert evaluation, with 1,000 brands configured; the daemon's
# resident memory at idle and under that load (from /proc); optionally a soak.
#   scripts/bench-pipeline.sh [POSTS] [BRANDS] [SOAK_MINUTES] [SOAK_POSTS_PER_POLL]
# With SOAK_MINUTES > 0, after the burst the feed returns SOAK_POSTS_PER_POLL (default
# 200) new posts on every poll (every 10 s) for that long; RSS is sampled every 10 s
# into soak.csv (kept in SOAK_OUT, default the current directory) and summarised.
# PRECISION (default auto) sets [model] precision. The posts' texts come from the labelled
# sentiment dev.tsv: OVERHEAR_BENCH_DATA=path/to/dev.tsv (not in the repository;
# models/train/README.md says where it comes from).
set -euo pipefail
cd "$(dirname "$0")/.."
posts=${1:-2000}
brands=${2:-1000}
soak=${3:-0}
per_poll=${4:-200}
soak_out=${SOAK_OUT:-$PWD}
data=${OVERHEAR_BENCH_DATA:-}
if [ -z "$data" ] || [ ! -f "$data" ]; then
  echo "bench-pipeline: set OVERHEAR_BENCH_DATA to the labelled sentiment dev.tsv (id, source, label, score, text);" >&2
  echo "  models/train/README.md says where the data comes from. Skipping." >&2
  exit 0
fi
data=$(realpath "$data")
scripts/libtorch.sh >/dev/null
cargo build --release --quiet
bin=$PWD/target/release/overhear
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
api=$(free_port)
python3 - "$work" "$brands" "$port" "$api" "$PWD" "${PRECISION:-auto}" <<'PY'
import sys
work, brands, port, api, root, precision = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
cfg = [f'[daemon]\ndata_dir = "{work}/data"\napi_bind = "127.0.0.1:{api}"\npoll_interval = "10s"\n',
       f'[model]\npath = "{root}/models/sentiment"\nprecision = "{precision}"\n[email]\ntransport = "file"\n']
for i in range(brands):
    cfg.append(f'[[brand]]\nname = "Brand{i}"\nquery = \'"brand{i}" OR #brand{i}\'\nalert_to = ["team{i}@example.com"]\n')
cfg.append(f'[[source]]\nkind = "rss"\nurl = "http://127.0.0.1:{port}/feed.xml"\nevery = "10s"\n')
open(f"{work}/overhear.toml", "w").write("".join(cfg))
PY
echo idle >"$work/mode"
python3 scripts/bench/feed_server.py "$work" "$port" "$brands" "$posts" "$per_poll" "$data" &
OVERHEAR_LOG=warn "$bin" run --config "$work/overhear.toml" 2>"$work/daemon.log" &
pid=$!
for _ in $(seq 1 600); do curl -fs "127.0.0.1:$api/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
rss() { awk '/VmRSS/{print $2}' /proc/$pid/status; }
# the daemon's own API token (the config names none)
metric() { curl -fs -H "Authorization: Bearer $(cat "$work/data/api-token")" "127.0.0.1:$api/metrics" | awk -v m="$1" '$1 ~ "^"m {s+=$2} END{print s+0}'; }
sleep 12
idle=$(rss)
echo burst >"$work/mode"
peak=$idle
start=""
while :; do
  m=$(metric overhear_mentions_total)
  r=$(rss); [ "$r" -gt "$peak" ] && peak=$r
  if [ -z "$start" ] && [ "$(metric overhear_posts_fetched_total)" -gt 0 ]; then
    start=$(date +%s.%N)
  fi
  [ "$m" -ge "$posts" ] && break
  sleep 0.2
done
end=$(date +%s.%N)
echo idle >"$work/mode"
sleep 15
after=$(rss)
python3 - "$posts" "$brands" "$start" "$end" "$idle" "$peak" "$after" <<'PY'
import sys
n, b, s, e, idle, peak, after = sys.argv[1:]
n = int(n); dt = float(e) - float(s)
print(f"pipeline: {n} posts, {b} brands: {dt:.1f} s from first fetch to last mention classified = {n/dt:.0f} posts/s")
print(f"resident memory: idle {int(idle)/1024:.0f} MB, peak under load {int(peak)/1024:.0f} MB, idle after {int(after)/1024:.0f} MB")
PY
if [ "$soak" -gt 0 ]; then
  csv=$soak_out/soak.csv
  echo "elapsed_s,rss_kb,fetched,mentions,outbox" >"$csv"
  echo stream >"$work/mode"
  t0=$(date +%s)
  sample() {
    echo "$(( $(date +%s) - t0 )),$(rss),$(metric overhear_posts_fetched_total),$(metric overhear_mentions_total),$(metric overhear_outbox_depth)"
  }
  while [ $(( $(date +%s) - t0 )) -lt $(( soak * 60 )) ]; do
    sample >>"$csv"
    sleep 10
  done
  echo idle >"$work/mode"
  sleep 20
  sample >>"$csv"
  python3 - "$csv" "$soak" "$per_poll" <<'PY'
import csv, sys
rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(open(sys.argv[1]))]
minutes, per_poll = int(sys.argv[2]), int(sys.argv[3])
first = [r["rss_kb"] for r in rows if r["elapsed_s"] <= 300]
last = [r["rss_kb"] for r in rows if r["elapsed_s"] >= rows[-1]["elapsed_s"] - 300]
done = rows[-1]["mentions"] - rows[0]["mentions"]
fetched = rows[-1]["fetched"] - rows[0]["fetched"]
print(f"soak: {minutes} min at {per_poll} posts per 10 s poll: {fetched:.0f} posts fetched, {done:.0f} "
      f"mentions classified ({done / rows[-1]['elapsed_s']:.1f}/s), outbox at the end {rows[-1]['outbox']:.0f}")
print(f"resident memory: first 5 min max {max(first)/1024:.0f} MB, last 5 min max {max(last)/1024:.0f} MB, "
      f"at the end {rows[-1]['rss_kb']/1024:.0f} MB; samples in {sys.argv[1]}")
PY
fi
kill -TERM $pid; wait $pid

#!/usr/bin/env bash
# Pipeline throughput and memory: posts/s from a fixture RSS source through matcher,
# store, classifier and alert evaluation, with 1,000 brands configured; the daemon's
# resident memory at idle and under that load (from /proc).
#   scripts/bench-pipeline.sh [POSTS] [BRANDS]
set -euo pipefail
cd "$(dirname "$0")/.."
posts=${1:-2000}
brands=${2:-1000}
scripts/libtorch.sh >/dev/null
cargo build --release --quiet
bin=$PWD/target/release/overhear
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
api=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/www"
python3 - "$work" "$posts" "$brands" "$port" "$api" "$PWD" <<'PY'
import csv, random, sys
work, posts, brands, port, api, root = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
random.seed(1)
with open(f"{root}/../shared/data/sentiment/dev.tsv", newline="", encoding="utf-8") as f:
    texts = [r["text"] for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
cfg = [f'[daemon]\ndata_dir = "{work}/data"\napi_bind = "127.0.0.1:{api}"\npoll_interval = "10s"\n',
       f'[model]\npath = "{root}/models/sentiment"\n[email]\ntransport = "file"\n']
for i in range(brands):
    cfg.append(f'[[brand]]\nname = "Brand{i}"\nquery = \'"brand{i}" OR #brand{i}\'\nalert_to = ["team{i}@example.com"]\n')
cfg.append(f'[[source]]\nkind = "rss"\nurl = "http://127.0.0.1:{port}/feed.xml"\nevery = "10s"\n')
open(f"{work}/overhear.toml", "w").write("".join(cfg))
from xml.sax.saxutils import escape
def feed(n):
    items = []
    for i in range(n):
        t = random.choice(texts)
        b = random.randrange(brands)
        items.append(f"<item><guid>p{i}</guid><title>post {i}</title><link>http://example.com/p{i}</link>"
                     f"<description>{escape(f'Brand{b} ' + t)}</description></item>")
    return '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>http://example.com/</link><description>d</description>' + "".join(items) + "</channel></rss>"
open(f"{work}/www/empty.xml", "w").write(feed(0))
open(f"{work}/www/full.xml", "w").write(feed(posts))
PY
cp "$work/www/empty.xml" "$work/www/feed.xml"
(cd "$work/www" && python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) &
OVERHEAR_LOG=warn "$bin" run --config "$work/overhear.toml" 2>"$work/daemon.log" &
pid=$!
for _ in $(seq 1 600); do curl -fs "127.0.0.1:$api/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
rss() { awk '/VmRSS/{print $2}' /proc/$pid/status; }
sleep 12
idle=$(rss)
mentions() { curl -fs "127.0.0.1:$api/metrics" | awk '/^overhear_mentions_total/{s+=$2} END{print s+0}'; }
cp "$work/www/full.xml" "$work/www/feed.xml"
peak=$idle
start=""
while :; do
  m=$(mentions)
  r=$(rss); [ "$r" -gt "$peak" ] && peak=$r
  if [ -z "$start" ] && [ "$(curl -fs "127.0.0.1:$api/metrics" | awk '/^overhear_posts_fetched_total/{s+=$2} END{print s+0}')" -gt 0 ]; then
    start=$(date +%s.%N)
  fi
  [ "$m" -ge "$posts" ] && break
  sleep 0.2
done
end=$(date +%s.%N)
sleep 15
after=$(rss)
python3 - "$posts" "$brands" "$start" "$end" "$idle" "$peak" "$after" <<'PY'
import sys
n, b, s, e, idle, peak, after = sys.argv[1:]
n = int(n); dt = float(e) - float(s)
print(f"pipeline: {n} posts, {b} brands: {dt:.1f} s from first fetch to last mention classified = {n/dt:.0f} posts/s")
print(f"resident memory: idle {int(idle)/1024:.0f} MB, peak under load {int(peak)/1024:.0f} MB, idle after {int(after)/1024:.0f} MB")
PY
kill -TERM $pid; wait $pid

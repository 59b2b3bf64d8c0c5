"""Loopback RSS feed for scripts/bench-pipeline.sh.

    python3 feed_server.py WORKDIR PORT BRANDS BURST STREAM DEV_TSV

What /feed.xml returns depends on WORKDIR/mode (re-read on every request):
  idle    an empty feed
  burst   the same BURST posts every time (ids b0..)
  stream  STREAM new posts per request (ids s0.., never repeated)
Each post is a dev.tsv text with one brand name in front, so every post is a mention.
"""
import csv
import http.server
import os
import random
import sys
from xml.sax.saxutils import escape

work, port, brands, burst, stream, data = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
with open(data, newline="", encoding="utf-8") as f:
    texts = [r["text"] for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
rng = random.Random(1)
next_stream = 0


def item(pid):
    t = rng.choice(texts)
    b = rng.randrange(brands)
    return (f"<item><guid>{pid}</guid><title>post {pid}</title><link>http://example.com/{pid}</link>"
            f"<description>{escape(f'Brand{b} ' + t)}</description></item>")


def feed(items):
    return ('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            '<link>http://example.com/</link><description>d</description>'
            + "".join(items) + "</channel></rss>").encode()


burst_feed = feed(item(f"b{i}") for i in range(burst))


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        global next_stream
        try:
            mode = open(os.path.join(work, "mode")).read().strip()
        except OSError:
            mode = "idle"
        if mode == "burst":
            body = burst_feed
        elif mode == "stream":
            body = feed(item(f"s{i}") for i in range(next_stream, next_stream + stream))
            next_stream += stream
        else:
            body = feed([])
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()

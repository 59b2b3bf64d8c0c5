"""The Python stack a user would otherwise run: Hugging Face transformers'
text-classification pipeline on the same weights, texts and thread count as
`cargo bench --bench classifier`. Prints one JSON object."""
import csv
import json
import sys
import time

import torch
from transformers import pipeline


def main():
    model, data, threads, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    with open(data, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    texts = [r["text"] for r in rows[:limit]]
    clf = pipeline("text-classification", model=model, tokenizer=model, device=-1, top_k=None)
    kw = dict(truncation=True, max_length=128)
    with torch.inference_mode():
        clf(texts[:64], batch_size=64, **kw)  # warm-up
        rates = {}
        for b in (1, 8, 32, 64):
            t = time.perf_counter()
            for i in range(0, len(texts), b):
                clf(texts[i:i + b], batch_size=b, **kw)
            rates[str(b)] = len(texts) / (time.perf_counter() - t)
        lat = []
        for text in texts[:300]:
            t = time.perf_counter()
            clf(text, **kw)
            lat.append((time.perf_counter() - t) * 1000)
        lat.sort()
        a = torch.randn(1024, 1024)
        b = torch.randn(1024, 1024)
        a @ b
        best = 0.0
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(10):
                a @ b
            best = max(best, 2 * 1024 ** 3 * 10 / (time.perf_counter() - t) / 1e9)
    pct = lambda p: lat[round((len(lat) - 1) * p)]
    print(json.dumps({"texts": len(texts), "threads": threads, "texts_per_s": rates,
                      "latency_ms": {"p50": pct(0.5), "p99": pct(0.99)},
                      "matmul_gflops": best, "torch": torch.__version__}))


if __name__ == "__main__":
    main()

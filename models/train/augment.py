"""Unlabelled text for distillation, made from the training texts only.

python augment.py --train train.tsv --out augmented.tsv [--per-row 2] [--seed 13]

Each training row gives --per-row new texts, each by one of these, chosen at random:
- drop:  every word dropped with probability 0.15 (at least 3 kept)
- crop:  a contiguous span of 40-80% of the words (at least 3)
- swap:  two to three pairs of neighbouring words swapped
- split: one sentence of a text with several (else a crop)
- mix:   the text followed by another random training text (posts are often longer than one
         snippet, and mixed feelings are common in them)
The new texts carry no label: the teacher's probabilities are their only target. No row of any
other file is read (the held-out evaluation rows come from the same sources as train.tsv).
Writes a TSV with columns id, source, origin, op, text (id = origin id + "~" + k).
"""
import argparse
import csv
import random
import re

from common import read_tsv

SENT = re.compile(r"(?<=[.!?])\s+")


def drop(words, rng):
    kept = [w for w in words if rng.random() >= 0.15]
    return kept if len(kept) >= 3 else words[:max(3, len(words) - 1)]


def crop(words, rng):
    n = len(words)
    k = max(3, int(n * rng.uniform(0.4, 0.8)))
    if k >= n:
        return words
    s = rng.randrange(0, n - k + 1)
    return words[s:s + k]


def swap(words, rng):
    w = list(words)
    if len(w) < 3:
        return w
    for _ in range(rng.randint(2, 3)):
        i = rng.randrange(0, len(w) - 1)
        w[i], w[i + 1] = w[i + 1], w[i]
    return w


def augment(text, others, rng):
    """(op, new text) for one text; others: a list of texts to mix with."""
    words = text.split()
    op = rng.choice(["drop", "crop", "swap", "split", "mix"])
    if op == "split":
        sents = [s for s in SENT.split(text) if len(s.split()) >= 3]
        if len(sents) >= 2:
            return op, rng.choice(sents)
        op = "crop"
    if op == "mix":
        return op, text.rstrip() + " " + rng.choice(others).lstrip()
    if len(words) < 4:
        return "mix", text.rstrip() + " " + rng.choice(others).lstrip()
    fn = {"drop": drop, "crop": crop, "swap": swap}[op]
    return op, " ".join(fn(words, rng))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-row", type=int, default=2)
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    rows = read_tsv(args.train)
    rng = random.Random(args.seed)
    texts = [r["text"] for r in rows]
    seen = set(texts)
    out = []
    for r in rows:
        for k in range(args.per_row):
            for _ in range(5):  # a few tries for a text not seen yet
                op, t = augment(r["text"], texts, rng)
                t = " ".join(t.replace("\t", " ").split())
                if t and t not in seen:
                    break
            else:
                continue
            seen.add(t)
            out.append({"id": f"{r['id']}~{k}", "source": r["source"], "origin": r["id"], "op": op, "text": t})
    with open(args.out, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["id", "source", "origin", "op", "text"], delimiter="\t",
                           quoting=csv.QUOTE_NONE, escapechar=None, quotechar=None, lineterminator="\n")
        w.writeheader()
        w.writerows(out)
    ops = {}
    for o in out:
        ops[o["op"]] = ops.get(o["op"], 0) + 1
    print(f"{len(out)} augmented texts from {len(rows)} rows: {ops}")


if __name__ == "__main__":
    main()

"""Shared helpers: data loading, labels and the dev-set metrics used by train/eval."""
import csv
import sys
from collections import OrderedDict

LABELS = ["negative", "neutral", "positive"]
LABEL2ID = {l: i for i, l in enumerate(LABELS)}
ID2LABEL = {i: l for i, l in enumerate(LABELS)}
SOURCES = ["vader-tweets", "vader-amazon", "vader-movies", "vader-nyt", "rotten-tomatoes"]
BINARY_ONLY_SOURCES = {"rotten-tomatoes"}
THRESHOLDS = [round(0.5 + 0.05 * i, 2) for i in range(10)]  # 0.50 .. 0.95


def read_tsv(path):
    csv.field_size_limit(sys.maxsize)
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        r = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        for row in r:
            assert row["label"] in LABEL2ID, row
            rows.append(row)
    return rows


def macro_f1(gold, pred, labels):
    f1s = []
    for lab in labels:
        tp = sum(1 for g, p in zip(gold, pred) if g == lab and p == lab)
        fp = sum(1 for g, p in zip(gold, pred) if g != lab and p == lab)
        fn = sum(1 for g, p in zip(gold, pred) if g == lab and p != lab)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    return sum(f1s) / len(f1s)


def decisions_from_probs(probs):
    """Model decisions from [p_neg, p_neu, p_pos] rows: (pred3 ids, binary-negative flags, alert scores)."""
    pred3 = [max(range(3), key=lambda k: p[k]) for p in probs]
    bin_neg = [p[0] > p[2] for p in probs]
    score = [p[0] for p in probs]
    return pred3, bin_neg, score


ECE_BINS = 10


def ece(p_neg, is_neg, bins=ECE_BINS):
    """Expected calibration error of P(negative) for the event "gold label is negative":
    rows put in `bins` equal-width bins of P(negative) (a score of exactly 1 goes in the last),
    then the row-weighted mean over bins of |mean P(negative) - share of gold negatives|.
    overhear's `eval` computes the same figure (src/classifier/eval.rs)."""
    if not p_neg:
        return float("nan")
    sums = [[0, 0.0, 0] for _ in range(bins)]
    for p, y in zip(p_neg, is_neg):
        b = min(int(p * bins), bins - 1)
        sums[b][0] += 1
        sums[b][1] += p
        sums[b][2] += int(y)
    return sum(abs(s / n - k / n) * n for n, s, k in sums if n) / len(p_neg)


def metrics(rows, pred3, bin_neg, score, thresholds=THRESHOLDS, probability=True):
    """rows: dicts with source/label; pred3: predicted label ids; bin_neg: binary decision
    (True = negative); score: alert score (P(negative) for the model).

    Returns OrderedDict group -> dict of metrics, groups = overall + each source.
    - acc3 / macro_f1: 3-class (macro over the labels present in the group's gold;
      for rotten-tomatoes that is negative/positive only, predictions of neutral count as errors)
    - bin_acc: rows with gold != neutral, decided by bin_neg
    - alert@t: fires iff pred3 is negative and score >= t; positive class = gold negative
    - ece: calibration error of score as P(negative) (see ece; NaN when probability is False,
      as for VADER's compound score, which is no probability)
    """
    out = OrderedDict()
    groups = [("overall", None)] + [(s, s) for s in SOURCES]
    for name, src in groups:
        idx = [i for i, r in enumerate(rows) if src is None or r["source"] == src]
        if not idx:
            continue
        gold = [rows[i]["label"] for i in idx]
        pred = [LABELS[pred3[i]] for i in idx]
        labs = [l for l in LABELS if l in set(gold)]
        m = OrderedDict()
        m["n"] = len(idx)
        m["acc3"] = sum(g == p for g, p in zip(gold, pred)) / len(idx)
        m["macro_f1"] = macro_f1(gold, pred, labs)
        bidx = [i for i in idx if rows[i]["label"] != "neutral"]
        m["n_bin"] = len(bidx)
        m["bin_acc"] = sum(bin_neg[i] == (rows[i]["label"] == "negative") for i in bidx) / max(1, len(bidx))
        npos = sum(1 for i in idx if rows[i]["label"] == "negative")
        alerts = OrderedDict()
        for t in thresholds:
            fired = [i for i in idx if pred3[i] == 0 and score[i] >= t]
            tp = sum(1 for i in fired if rows[i]["label"] == "negative")
            alerts[t] = {
                "fired": len(fired),
                "precision": tp / len(fired) if fired else float("nan"),
                "recall": tp / npos if npos else float("nan"),
            }
        m["alert"] = alerts
        m["ece"] = (ece([score[i] for i in idx], [rows[i]["label"] == "negative" for i in idx])
                    if probability else float("nan"))
        out[name] = m
    return out

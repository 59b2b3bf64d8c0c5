"""Temperature scaling on dev, and the alert threshold chosen from the calibrated scores.

python calibrate.py --dev dev.tsv --logits DEV_SCORES.json --out models/sentiment/calibration.json

DEV_SCORES.json: the model's dev logits (a list of rows, as teacher.py/distill.py save them) or
export.py's --probs-out file (its raw probabilities; log p are logits up to a constant, which a
softmax ignores), in dev.tsv's row order.

Fits one temperature T (probabilities = softmax(logits / T)) by minimising the log-loss of
P(negative) against "the gold label is negative" on dev.tsv, over T = 0.25 .. 5.00 in steps of
0.01: that is the number the daemon compares with alert_threshold, so that is the one made to mean
what it says. Temperature scaling never changes a text's label (the argmax), only how sure the
score is. Reports the expected calibration error (common.ece, 10 bins) before and after, then
picks alert_threshold on the calibrated scores (t in 0.50 .. 0.99, steps of 0.01): where some t
reaches both --min-precision (0.90) and --min-recall (0.70), the one of those with the highest
recall; where none does, the t with the best precision among those with recall at least
--min-recall. The precision-first choice (highest recall at precision >= 0.90) is reported too.
Writes calibration.json (the daemon reads its "temperature"; the rest documents the fit).
"""
import argparse
import json
import math

import torch

from common import ECE_BINS, ece, read_tsv


def load_logits(path):
    saved = json.load(open(path))
    if isinstance(saved, dict):
        return torch.log(torch.tensor(saved["probs"], dtype=torch.float64).clamp_min(1e-30))
    return torch.tensor(saved, dtype=torch.float64)


def probs_at(logits, t):
    return torch.softmax(logits / t, dim=-1)


def neg_log_loss(p_neg, y):
    p = p_neg.clamp(1e-7, 1 - 1e-7)
    return float(-(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean())


def alert_pr(probs, y, t):
    fired = (probs.argmax(1) == 0) & (probs[:, 0] >= t)
    tp = int((fired & (y > 0.5)).sum())
    n_fired, n_pos = int(fired.sum()), int((y > 0.5).sum())
    return (tp / n_fired if n_fired else float("nan")), (tp / n_pos if n_pos else float("nan"))


def choose_threshold(probs, y, min_precision, min_recall):
    """The default alert threshold, on t = 0.50 .. 0.99. Where some t reaches both targets,
    the one of those with the highest recall (the lowest t). Where none does, recall is kept:
    the t with the best precision among those with recall >= min_recall (a missed unhappy
    customer is the failure overhear exists to prevent; a team that prefers fewer, surer
    alerts sets the precision-first threshold, reported beside it)."""
    grid = [round(0.50 + 0.01 * i, 2) for i in range(50)]
    pr = {t: alert_pr(probs, y, t) for t in grid}
    fine = lambda p: not math.isnan(p)  # noqa: E731
    both = [(r, -t) for t, (p, r) in pr.items() if fine(p) and p >= min_precision and r >= min_recall]
    if both:
        t = -max(both)[1]
        rule = f"highest recall with precision >= {min_precision} and recall >= {min_recall}"
    else:
        cand = [(p, -t) for t, (p, r) in pr.items() if fine(p) and r >= min_recall]
        t = -max(cand)[1] if cand else 0.5
        rule = (f"no t reaches precision {min_precision} with recall {min_recall}: "
                f"the best precision with recall >= {min_recall}")
    sure = [(r, -u) for u, (p, r) in pr.items() if fine(p) and p >= min_precision]
    precision_first = None
    if sure:
        u = -max(sure)[1]
        precision_first = {"alert_threshold": u, "alert_precision": round(pr[u][0], 4),
                           "alert_recall": round(pr[u][1], 4),
                           "rule": f"highest recall with precision >= {min_precision}"}
    return t, pr[t], rule, precision_first


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev", required=True)
    ap.add_argument("--logits", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--min-precision", type=float, default=0.90)
    ap.add_argument("--min-recall", type=float, default=0.70)
    args = ap.parse_args()
    rows = read_tsv(args.dev)
    logits = load_logits(args.logits)
    assert len(logits) == len(rows), (len(logits), len(rows))
    y = torch.tensor([1.0 if r["label"] == "negative" else 0.0 for r in rows], dtype=torch.float64)
    grid = [round(0.25 + 0.01 * i, 2) for i in range(476)]
    losses = {t: neg_log_loss(probs_at(logits, t)[:, 0], y) for t in grid}
    T = min(grid, key=lambda t: (losses[t], t))
    before, after = probs_at(logits, 1.0), probs_at(logits, T)
    e0 = ece(before[:, 0].tolist(), (y > 0.5).tolist())
    e1 = ece(after[:, 0].tolist(), (y > 0.5).tolist())
    t, (p, r), rule, precision_first = choose_threshold(after, y, args.min_precision, args.min_recall)
    out = {"temperature": T, "fitted_on": "dev.tsv", "rows": len(rows),
           "objective": "log-loss of P(negative) against gold negative",
           "ece_bins": ECE_BINS, "ece_before": round(e0, 4), "ece_after": round(e1, 4),
           "log_loss_before": round(losses.get(1.0, neg_log_loss(before[:, 0], y)), 4),
           "log_loss_after": round(losses[T], 4),
           "alert_threshold": t, "alert_threshold_rule": rule,
           "alert_precision": round(p, 4), "alert_recall": round(r, 4),
           "precision_first": precision_first}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

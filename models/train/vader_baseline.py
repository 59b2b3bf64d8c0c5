"""VADER baseline (vaderSentiment 3.3.2) on the same rows and metrics as the model.

3-class: compound >= 0.05 positive, <= -0.05 negative, else neutral.
Binary (non-neutral rows): negative iff VADER's `neg` score > its `pos` score.
Alert: fires iff the 3-class label is negative and -compound >= t (so the same t grid
0.50..0.95 is applied to VADER's negated compound score, which is on a different, uncalibrated scale).

Run alone: python vader_baseline.py dev.tsv  -> prints the overall/per-source table.
"""
import sys

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


def vader_decisions(texts):
    sia = SentimentIntensityAnalyzer()
    pred3, bin_neg, score = [], [], []
    for t in texts:
        s = sia.polarity_scores(t)
        c = s["compound"]
        pred3.append(2 if c >= 0.05 else (0 if c <= -0.05 else 1))
        bin_neg.append(s["neg"] > s["pos"])
        score.append(-c)
    return pred3, bin_neg, score


if __name__ == "__main__":
    from common import metrics, read_tsv

    rows = read_tsv(sys.argv[1])
    m = metrics(rows, *vader_decisions([r["text"] for r in rows]))
    for g, v in m.items():
        print(f"{g:16s} n={v['n']:5d} acc3={v['acc3']:.4f} macroF1={v['macro_f1']:.4f} bin_acc={v['bin_acc']:.4f}")
    for t, a in m["overall"]["alert"].items():
        print(f"alert t={t:.2f} fired={a['fired']} P={a['precision']:.4f} R={a['recall']:.4f}")

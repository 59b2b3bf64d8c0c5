"""Dev-set figures of the shipped model (loaded as shipped: its weights file into an fp32 model,
scores at calibration.json's temperature) side by side with the teacher, the previous shipped
model (v1) and VADER. Writes a markdown report and a JSON file with every figure.

python eval.py --model models/sentiment --dev dev.tsv --md models/train/dev_eval.md \
    --json models/train/dev_eval.json [--teacher-logits T/best/dev_logits.json] \
    [--v1 models/train/dev_eval_v1.json] [--probs DEV_PROBS.json]

python eval.py --model DIR --dev dev.tsv --json OUT.json --figures-only
    only the model's figures (how dev_eval_v1.json was made from the v1 weights)
"""
import argparse
import json
import math
import os

import torch
from transformers import BertForSequenceClassification, BertTokenizer

from common import SOURCES, THRESHOLDS, decisions_from_probs, metrics, read_tsv
from train import encode, predict
from vader_baseline import vader_decisions


def choose_threshold(alert, min_precision=0.90):
    ok = [(a["recall"], t) for t, a in alert.items()
          if not math.isnan(a["precision"]) and a["precision"] >= min_precision]
    if not ok:
        return None
    best_recall = max(r for r, _ in ok)
    return min(t for r, t in ok if r == best_recall)  # lowest t reaching that recall


def fmt(x):
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def js(x):
    if isinstance(x, dict):
        return {str(k): js(v) for k, v in x.items()}
    if isinstance(x, float) and math.isnan(x):
        return None
    return x


def unjs(x):
    """dev_eval_v1.json back into metrics() shape (threshold keys as floats, None as NaN)."""
    if isinstance(x, dict):
        out = {}
        for k, v in x.items():
            try:
                k = float(k)
            except ValueError:
                pass
            out[k] = unjs(v)
        return out
    return float("nan") if x is None else x


def shipped_probs(model_dir, rows, saved_probs):
    """Raw softmax probabilities of the shipped weights (saved by export.py when they match)."""
    if saved_probs:
        from export import sha256
        saved = json.load(open(saved_probs))
        if saved["model_sha256"] == sha256(os.path.join(model_dir, "model.safetensors")) and saved["n"] == len(rows):
            print(f"using saved probabilities from {saved_probs}")
            return torch.tensor(saved["probs"], dtype=torch.float64)
    tok = BertTokenizer.from_pretrained(model_dir)
    model = BertForSequenceClassification.from_pretrained(model_dir, torch_dtype=torch.float32)
    return torch.tensor(predict(model, encode(tok, rows, 128)), dtype=torch.float64)


def at_temperature(raw_probs, t):
    return torch.softmax(torch.log(raw_probs.clamp_min(1e-30)) / t, dim=-1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--dev", required=True)
    ap.add_argument("--md", default="")
    ap.add_argument("--json", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--probs", default="", help="raw dev probabilities saved by export.py --probs-out "
                    "(used only if they belong to this model file and dev set)")
    ap.add_argument("--teacher-logits", default="")
    ap.add_argument("--v1", default="", help="figures of the previous model (--figures-only output)")
    ap.add_argument("--figures-only", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    rows = read_tsv(args.dev)
    raw = shipped_probs(args.model, rows, args.probs)
    cal_path = os.path.join(args.model, "calibration.json")
    cal = json.load(open(cal_path)) if os.path.exists(cal_path) else {"temperature": 1.0}
    T = cal["temperature"]
    shipped_t = cal.get("alert_threshold", 0.70)
    grid = sorted(set(THRESHOLDS + [shipped_t]))
    probs = at_temperature(raw, T).tolist()
    student = metrics(rows, *decisions_from_probs(probs), thresholds=grid)
    if args.figures_only:
        with open(args.json, "w") as f:
            json.dump(js({"model": student, "temperature": T, "alert_threshold": shipped_t}), f, indent=1)
        print(f"wrote {args.json}")
        return
    res = {"student": student}
    res["student_uncalibrated"] = metrics(rows, *decisions_from_probs(raw.tolist()), thresholds=grid)
    thr = {"student": shipped_t}
    if args.teacher_logits:
        tp = torch.softmax(torch.tensor(json.load(open(args.teacher_logits))), dim=-1).tolist()
        res["teacher"] = metrics(rows, *decisions_from_probs(tp), thresholds=grid)
        thr["teacher"] = choose_threshold(res["teacher"]["overall"]["alert"])
    if args.v1:
        v1 = unjs(json.load(open(args.v1)))
        res["v1"] = v1["model"]
        thr["v1"] = v1["alert_threshold"]
    res["vader"] = metrics(rows, *vader_decisions([r["text"] for r in rows]), probability=False)
    thr["vader"] = choose_threshold(res["vader"]["overall"]["alert"])
    names = [n for n in ["teacher", "student", "v1", "vader"] if n in res]
    title = {"teacher": "teacher (MPNet)", "student": "shipped (student)", "v1": "v1 (previous)", "vader": "VADER"}
    groups = ["overall"] + [s for s in SOURCES if s in res["student"]]

    L = ["## Dev-set figures (dev.tsv)", "",
         f"Shipped model: calibrated at temperature {T} (`calibration.json`), alert_threshold {shipped_t}.", "",
         "### Macro-F1 / binary accuracy", "",
         "| group | n | " + " | ".join(title[n] for n in names) + " |",
         "|---|---:|" + "---:|" * len(names)]
    for g in groups:
        cells = [f"{fmt(res[n][g]['macro_f1'])} / {fmt(res[n][g]['bin_acc'])}" for n in names]
        L.append(f"| {g} | {res['student'][g]['n']} | " + " | ".join(cells) + " |")
    L += ["", "rotten-tomatoes rows are binary (no neutral gold); their macro-F1 is over negative/positive "
          "only and a neutral prediction counts as an error.", "",
          "### Alert precision / recall (argmax negative AND score >= t)", "",
          "Each model at its own threshold: the shipped one at its alert_threshold, v1 at its 0.70, the "
          "teacher and VADER at the lowest t of 0.50..0.95 with the best recall at precision >= 0.90 "
          "(VADER's score is -compound, no probability).", "",
          "| group | " + " | ".join(f"{title[n]} @ {thr[n] if thr[n] is not None else '–'}" for n in names) + " |",
          "|---|" + "---:|" * len(names)]
    for g in groups:
        cells = []
        for n in names:
            a = res[n][g]["alert"].get(thr[n]) if thr[n] is not None else None
            cells.append(f"{fmt(a['precision'])} / {fmt(a['recall'])}" if a else "–")
        L.append(f"| {g} | " + " | ".join(cells) + " |")
    L += ["", "### Calibration: expected calibration error of P(negative) (10 bins; lower is better)", "",
          "| group | shipped, uncalibrated | shipped, calibrated | teacher | v1 |", "|---|---:|---:|---:|---:|"]
    for g in groups:
        L.append(f"| {g} | {fmt(res['student_uncalibrated'][g]['ece'])} | {fmt(res['student'][g]['ece'])} | "
                 f"{fmt(res['teacher'][g]['ece']) if 'teacher' in res else '–'} | "
                 f"{fmt(res['v1'][g].get('ece', float('nan'))) if 'v1' in res else '–'} |")
    L += ["", "### Shipped model: the alert threshold sweep (calibrated scores), overall", "",
          "| t | fired | precision | recall |", "|---:|---:|---:|---:|"]
    for t in grid:
        a = res["student"]["overall"]["alert"][t]
        L.append(f"| {t:.2f} | {a['fired']} | {fmt(a['precision'])} | {fmt(a['recall'])} |")
    L.append("")
    md = "\n".join(L)
    print(md)
    if args.md:
        with open(args.md, "w") as f:
            f.write(md)
    with open(args.json, "w") as f:
        json.dump(js({"results": res, "thresholds": thr, "temperature": T, "calibration": cal}), f, indent=1)


if __name__ == "__main__":
    main()

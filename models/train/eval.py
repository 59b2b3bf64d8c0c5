"""Evaluate the shipped model (loaded exactly as shipped: fp16 file into an fp32 model) and the
VADER baseline on dev.tsv. Writes a markdown report and a JSON file with every figure.

python eval.py --model models/sentiment --dev dev.tsv --md models/train/dev_eval.md --json models/train/dev_eval.json
"""
import argparse
import json
import math
import os

import torch
from transformers import BertForSequenceClassification, BertTokenizer

from common import THRESHOLDS, decisions_from_probs, metrics, read_tsv
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--dev", required=True)
    ap.add_argument("--md", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--probs", default="", help="dev probabilities saved by export.py --probs-out "
                    "(used only if they belong to this model file and dev set)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    rows = read_tsv(args.dev)
    probs = None
    if args.probs:
        from export import sha256
        saved = json.load(open(args.probs))
        if (saved["model_sha256"] == sha256(os.path.join(args.model, "model.safetensors"))
                and saved["n"] == len(rows) and saved["dev"] == os.path.abspath(args.dev)):
            probs = saved["probs"]
            print(f"using saved probabilities from {args.probs}")
    if probs is None:
        tok = BertTokenizer.from_pretrained(args.model)
        model = BertForSequenceClassification.from_pretrained(args.model, torch_dtype=torch.float32)
        probs = predict(model, encode(tok, rows, 128))
    res = {"model": metrics(rows, *decisions_from_probs(probs)),
           "vader": metrics(rows, *vader_decisions([r["text"] for r in rows]))}
    thr = {k: choose_threshold(v["overall"]["alert"]) for k, v in res.items()}

    L = ["## Dev-set figures (dev.tsv)", "",
         "| group | n | n non-neutral | model acc3 | model macro-F1 | model binary acc | "
         "VADER acc3 | VADER macro-F1 | VADER binary acc |",
         "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for g in res["model"]:
        m, v = res["model"][g], res["vader"][g]
        L.append(f"| {g} | {m['n']} | {m['n_bin']} | {fmt(m['acc3'])} | {fmt(m['macro_f1'])} | "
                 f"{fmt(m['bin_acc'])} | {fmt(v['acc3'])} | {fmt(v['macro_f1'])} | {fmt(v['bin_acc'])} |")
    L += ["", "rotten-tomatoes rows are binary (no neutral gold); their macro-F1 is over negative/positive "
          "only and a neutral prediction counts as an error in acc3.", "",
          "### Alert decision (argmax negative AND score >= t; positive class = gold negative), overall",
          "", "Model score = P(negative); VADER score = -compound (different, uncalibrated scale).", "",
          "| t | model fired | model precision | model recall | VADER fired | VADER precision | VADER recall |",
          "|---:|---:|---:|---:|---:|---:|---:|"]
    for t in THRESHOLDS:
        a, b = res["model"]["overall"]["alert"][t], res["vader"]["overall"]["alert"][t]
        L.append(f"| {t:.2f} | {a['fired']} | {fmt(a['precision'])} | {fmt(a['recall'])} | "
                 f"{b['fired']} | {fmt(b['precision'])} | {fmt(b['recall'])} |")
    L += ["", "### Model alert precision / recall per source", "",
          "| t | " + " | ".join(g for g in res["model"] if g != "overall") + " |",
          "|---:|" + "---:|" * (len(res["model"]) - 1)]
    for t in THRESHOLDS:
        cells = []
        for g, m in res["model"].items():
            if g == "overall":
                continue
            a = m["alert"][t]
            cells.append(f"{fmt(a['precision'])} / {fmt(a['recall'])}")
        L.append(f"| {t:.2f} | " + " | ".join(cells) + " |")
    L += ["", f"Chosen alert threshold (highest overall recall with precision >= 0.90, lowest such t): "
          f"model {thr['model']}, VADER {thr['vader']}", ""]
    md = "\n".join(L)
    print(md)
    with open(args.md, "w") as f:
        f.write(md)

    def js(x):
        if isinstance(x, dict):
            return {str(k): js(v) for k, v in x.items()}
        if isinstance(x, float) and math.isnan(x):
            return None
        return x
    with open(args.json, "w") as f:
        json.dump(js({"results": res, "chosen_threshold": thr}), f, indent=1)


if __name__ == "__main__":
    main()

"""Distil the teacher into the shipped architecture (MiniLM-L6 BERT, 22.7M parameters).

python distill.py --base MINILM_DIR --train train.tsv --augmented augmented.tsv \
    --teacher-logits teacher_logits.jsonl --dev dev.tsv --out DIR [options]

Every row, labelled or augmented, trains on the teacher's temperature-softened probabilities
(KL divergence at temperature --kd-temperature, scaled by its square, weight --alpha); the
labelled rows of train.tsv add the shipped recipe's loss on their labels (weight 1 - alpha).
dev.tsv only picks the best epoch. Resumable (loop.py). Writes OUT/best (save_pretrained, plus
dev_logits.json) and OUT/history.json.
"""
import argparse
import json
import math
import os
import random

import numpy as np
import torch
from transformers import BertForSequenceClassification, BertTokenizer, get_linear_schedule_with_warmup

import loop
from common import BINARY_ONLY_SOURCES, ID2LABEL, LABEL2ID, read_tsv
from label import read_texts
from teacher import recipe_loss
from train import param_groups, soft_targets


def read_logits(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                break
            out[rec["id"]] = rec["logits"]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--train", required=True)
    ap.add_argument("--augmented", required=True)
    ap.add_argument("--teacher-logits", required=True)
    ap.add_argument("--dev", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--lr", type=float, default=8e-5)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--warmup", type=float, default=0.06)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--alpha", type=float, default=0.7, help="weight of the distillation loss")
    ap.add_argument("--kd-temperature", type=float, default=2.0)
    ap.add_argument("--soft-labels", type=float, default=0.1)
    ap.add_argument("--neutral-weight", type=float, default=1.3)
    ap.add_argument("--save-every", type=int, default=200)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    dev = torch.device(args.device)

    tok = BertTokenizer.from_pretrained(args.base, do_lower_case=True)
    model = BertForSequenceClassification.from_pretrained(
        args.base, num_labels=3, id2label=ID2LABEL, label2id=LABEL2ID)
    model.config.architectures = ["BertForSequenceClassification"]
    model.to(dev)

    train_rows = read_tsv(args.train)
    aug = read_texts([args.augmented])
    dev_rows = read_tsv(args.dev)
    teacher = read_logits(args.teacher_logits)
    ids_all = [r["id"] for r in train_rows] + [i for i, _ in aug]
    missing = [i for i in ids_all if i not in teacher]
    if missing:
        raise SystemExit(f"distill: {len(missing)} texts have no teacher logits (first: {missing[0]}); "
                         f"run label.py to the end first")
    bad = [i for i in ids_all if len(teacher[i]) != len(ID2LABEL)]
    if bad:
        raise SystemExit(f"distill: the teacher logits of {bad[0]} have {len(teacher[bad[0]])} values, "
                         f"expected {len(ID2LABEL)} (negative, neutral, positive)")
    texts = [r["text"] for r in train_rows] + [t for _, t in aug]
    ids = tok(texts, truncation=True, max_length=args.max_length)["input_ids"]
    dev_ids = tok([r["text"] for r in dev_rows], truncation=True, max_length=args.max_length)["input_ids"]
    n_lab = len(train_rows)
    t_logits = torch.tensor([teacher[i] for i in ids_all])
    t_soft = torch.softmax(t_logits / args.kd_temperature, dim=-1)
    labels = torch.tensor([LABEL2ID[r["label"]] for r in train_rows] + [0] * len(aug))
    labelled = torch.tensor([True] * n_lab + [False] * len(aug))
    binary = torch.tensor([r["source"] in BINARY_ONLY_SOURCES for r in train_rows] + [False] * len(aug))
    soft = soft_targets(train_rows, args.soft_labels)
    if soft is not None:
        soft = torch.cat([soft, torch.zeros((len(aug), 3))])
    class_w = torch.tensor([1.0, args.neutral_weight, 1.0], device=dev)
    lengths = [len(s) for s in ids]
    print(f"{n_lab} labelled + {len(aug)} augmented texts; teacher agrees with the labels on "
          f"{float((t_logits[:n_lab].argmax(1) == labels[:n_lab]).float().mean()):.3f} of the labelled rows",
          flush=True)

    opt = torch.optim.AdamW(param_groups(model, args.lr, args.weight_decay, 1.0), lr=args.lr)
    total = math.ceil(len(ids) / args.batch_size) * args.epochs
    sched = get_linear_schedule_with_warmup(opt, int(args.warmup * total), total)
    ce = torch.nn.CrossEntropyLoss(reduction="none")
    tau = args.kd_temperature

    def loss_of(batch):
        input_ids, attn = loop.collate(ids, batch, 0)
        logits = model(input_ids=input_ids.to(dev), attention_mask=attn.to(dev)).logits.float()
        pt = t_soft[batch].to(dev)
        kd = (pt * (torch.log(pt.clamp_min(1e-12)) - torch.log_softmax(logits / tau, dim=-1))).sum(-1) * tau ** 2
        lab = labelled[batch].to(dev)
        sb = soft[batch].to(dev) if soft is not None else None
        rec = recipe_loss(logits, labels[batch].to(dev), binary[batch].to(dev), sb, class_w, 1, ce)
        loss = args.alpha * kd + torch.where(lab, (1 - args.alpha) * rec, torch.zeros_like(rec))
        return loss.mean()

    loop.fit(model, tok, opt, sched, args=args, lengths=lengths, loss_of=loss_of,
             dev_ids=dev_ids, dev_rows=dev_rows, pad_id=0, device=dev)


if __name__ == "__main__":
    main()

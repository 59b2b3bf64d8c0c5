"""Fine-tune the teacher, all-mpnet-base-v2 (MPNet, 12 layers, 109.5M parameters), as a 3-class
sentiment classifier on train.tsv, with the shipped recipe's loss (soft targets from the mean
rating, neutral weight, a 2-way loss for binary-only sources). dev.tsv only picks the best epoch.

Usage: python teacher.py --base DIR --train train.tsv --dev dev.tsv --out DIR [options]

Resumable (loop.py): started again with the same OUT it continues from OUT/ckpt.pt.
Writes OUT/best (save_pretrained, plus dev_logits.json) and OUT/history.json.
Takes ~45 min per epoch on 2 AVX2 cores in fp32 (4.6 s per step of 32); far less on a GPU
(--device cuda).
"""
import argparse
import math
import os
import random

import numpy as np
import torch
from transformers import AutoTokenizer, MPNetForSequenceClassification, get_linear_schedule_with_warmup

import loop
from common import BINARY_ONLY_SOURCES, ID2LABEL, LABEL2ID, read_tsv
from train import param_groups, soft_targets


def recipe_loss(logits, y, b, soft_b, class_w, rt_binary, ce):
    """Per-row loss of the shipped recipe: soft (or hard) 3-way targets with class weights, and a
    2-way negative/positive loss for rows of binary-only sources (b)."""
    if soft_b is not None:
        loss3 = -(soft_b * class_w * torch.log_softmax(logits, dim=-1)).sum(-1)
    else:
        loss3 = ce(logits, y) * class_w[y]
    if rt_binary and b.any():
        loss2 = ce(logits[:, [0, 2]], (y == 2).long())
        return torch.where(b, loss2, loss3)
    return loss3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--train", required=True)
    ap.add_argument("--dev", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--warmup", type=float, default=0.06)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--soft-labels", type=float, default=0.1)
    ap.add_argument("--neutral-weight", type=float, default=1.3)
    ap.add_argument("--rt-binary-loss", type=int, default=1)
    ap.add_argument("--save-every", type=int, default=100)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    dev = torch.device(args.device)

    tok = AutoTokenizer.from_pretrained(args.base)
    model = MPNetForSequenceClassification.from_pretrained(
        args.base, num_labels=3, id2label=ID2LABEL, label2id=LABEL2ID)
    model.config.architectures = ["MPNetForSequenceClassification"]
    model.to(dev)
    pad_id = tok.pad_token_id

    train_rows = read_tsv(args.train)
    dev_rows = read_tsv(args.dev)
    tr_ids = tok([r["text"] for r in train_rows], truncation=True, max_length=args.max_length)["input_ids"]
    dev_ids = tok([r["text"] for r in dev_rows], truncation=True, max_length=args.max_length)["input_ids"]
    labels = torch.tensor([LABEL2ID[r["label"]] for r in train_rows])
    binary = torch.tensor([r["source"] in BINARY_ONLY_SOURCES for r in train_rows])
    soft = soft_targets(train_rows, args.soft_labels)
    class_w = torch.tensor([1.0, args.neutral_weight, 1.0], device=dev)
    lengths = [len(s) for s in tr_ids]
    print(f"{len(tr_ids)} train rows, mean {sum(lengths)/len(lengths):.1f} tokens", flush=True)

    opt = torch.optim.AdamW(param_groups(model, args.lr, args.weight_decay, 1.0), lr=args.lr)
    total = math.ceil(len(tr_ids) / args.batch_size) * args.epochs
    sched = get_linear_schedule_with_warmup(opt, int(args.warmup * total), total)
    ce = torch.nn.CrossEntropyLoss(reduction="none")

    def loss_of(batch):
        input_ids, attn = loop.collate(tr_ids, batch, pad_id)
        logits = model(input_ids=input_ids.to(dev), attention_mask=attn.to(dev)).logits.float()
        sb = soft[batch].to(dev) if soft is not None else None
        return recipe_loss(logits, labels[batch].to(dev), binary[batch].to(dev), sb, class_w,
                           args.rt_binary_loss, ce).mean()

    loop.fit(model, tok, opt, sched, args=args, lengths=lengths, loss_of=loss_of,
             dev_ids=dev_ids, dev_rows=dev_rows, pad_id=pad_id, device=dev)


if __name__ == "__main__":
    main()

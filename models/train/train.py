"""Fine-tune all-MiniLM-L6-v2 (BERT, 6 layers) as a 3-class sentiment classifier on CPU.

Usage: python train.py --base DIR --train train.tsv --dev dev.tsv --out DIR [hyper-parameters]

dev.tsv is only used for per-epoch evaluation and choosing the best epoch (never trained on).
Writes OUT/best (save_pretrained, fp32 safetensors) and OUT/history.json.
"""
import argparse
import json
import math
import os
import random
import time

import numpy as np
import torch
from transformers import BertForSequenceClassification, BertTokenizer, get_linear_schedule_with_warmup

from common import BINARY_ONLY_SOURCES, ID2LABEL, LABEL2ID, decisions_from_probs, metrics, read_tsv


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def encode(tok, rows, max_length):
    enc = tok([r["text"] for r in rows], truncation=True, max_length=max_length)
    return enc["input_ids"]


def make_batches(lengths, batch_size, rng, shuffle=True, chunk=50):
    """Length-bucketed batches: shuffle, sort within chunks of chunk*batch_size, shuffle batches."""
    idx = list(range(len(lengths)))
    if not shuffle:
        idx.sort(key=lambda i: lengths[i])
        return [idx[i:i + batch_size] for i in range(0, len(idx), batch_size)]
    rng.shuffle(idx)
    batches = []
    span = chunk * batch_size
    for s in range(0, len(idx), span):
        part = sorted(idx[s:s + span], key=lambda i: lengths[i])
        batches += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(ids_list, batch):
    """Padded (with 0, BERT's [PAD]) input ids and attention mask: loop.collate."""
    import loop
    return loop.collate(ids_list, batch, 0)


@torch.no_grad()
def predict(model, ids_list, batch_size=64):
    model.eval()
    lengths = [len(s) for s in ids_list]
    probs = [None] * len(ids_list)
    for batch in make_batches(lengths, batch_size, None, shuffle=False):
        input_ids, attn = collate(ids_list, batch)
        logits = model(input_ids=input_ids, attention_mask=attn).logits.float()
        p = torch.softmax(logits, dim=-1).tolist()
        for i, pp in zip(batch, p):
            probs[i] = pp
    return probs


def soft_targets(rows, tau):
    """(N, 3) target distributions from the mean rating (see --soft-labels), or None when tau is 0.
    Rows without a score (binary-only sources) get their one-hot gold label."""
    if tau <= 0:
        return None
    out = torch.zeros((len(rows), 3))
    for i, r in enumerate(rows):
        if r.get("score", "").strip():
            s = float(r["score"])
            neg = 1.0 / (1.0 + math.exp(-(-0.5 - s) / tau))
            pos = 1.0 / (1.0 + math.exp(-(s - 0.5) / tau))
            neu = max(0.0, 1.0 - neg - pos)
            t = torch.tensor([neg, neu, pos])
            g, top = LABEL2ID[r["label"]], int(t.argmax())
            if top != g:  # only within ~0.01 of a cut (the neutral band is narrow): swap
                t[[g, top]] = t[[top, g]]
            out[i] = t / t.sum()
        else:
            out[i, LABEL2ID[r["label"]]] = 1.0
    return out


def lr_scale(name, n_layers, llrd):
    """Layer-wise lr factor for a parameter name of BertForSequenceClassification."""
    if llrd == 1.0:
        return 1.0
    if name.startswith("bert.embeddings."):
        return llrd ** (n_layers + 1)
    if name.startswith("bert.encoder.layer."):
        k = int(name.split(".")[3])
        return llrd ** (n_layers - k)
    return 1.0  # pooler, classifier


def param_groups(model, lr, weight_decay, llrd):
    """AdamW groups: no weight decay on bias/LayerNorm; lr scaled per layer (llrd)."""
    no_decay = ("bias", "LayerNorm.weight")
    n_layers = model.config.num_hidden_layers
    groups = {}
    for n, p in model.named_parameters():
        if not p.requires_grad:
            continue
        wd = 0.0 if any(nd in n for nd in no_decay) else weight_decay
        scale = lr_scale(n, n_layers, llrd)
        g = groups.setdefault((wd, scale), {"params": [], "weight_decay": wd, "lr": lr * scale})
        g["params"].append(p)
    return list(groups.values())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--train", required=True)
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
    ap.add_argument("--rt-binary-loss", type=int, default=1,
                    help="1: rows of binary-only sources get a 2-way (negative vs positive) loss "
                         "over the negative/positive logits, so they teach nothing about neutral")
    ap.add_argument("--stop-after-epochs", type=int, default=0,
                    help="stop (and save) after this many epochs of the --epochs schedule (0 = run all)")
    ap.add_argument("--init", default="", help="continue from this checkpoint instead of --base")
    ap.add_argument("--max-steps", type=int, default=0,
                    help="with --init: train this many steps, lr decaying linearly from --lr to 0 "
                         "after --warmup-steps, then save OUT/best (no dev evaluation)")
    ap.add_argument("--warmup-steps", type=int, default=10)
    ap.add_argument("--freeze-word-embeddings", type=int, default=0)
    ap.add_argument("--save-every", type=int, default=0, help="with --max-steps: also save OUT/last every N steps")
    ap.add_argument("--eval", type=int, default=1, help="evaluate on dev after each epoch")
    ap.add_argument("--bf16", type=int, default=0,
                    help="1: mixed precision (torch.autocast bfloat16 on CPU; fp32 master weights). "
                         "About 2x faster where the CPU has AVX512-BF16")
    ap.add_argument("--soft-labels", type=float, default=0.0,
                    help="TAU > 0: rows with a mean human rating (score) train on a soft target, "
                         "P(neg) = sigmoid((-0.5 - score)/TAU), P(pos) = sigmoid((score - 0.5)/TAU), "
                         "P(neu) the rest, with the gold label's mass swapped to the top where a score sits "
                         "right at a cut (0 = hard labels)")
    ap.add_argument("--neutral-weight", type=float, default=1.0,
                    help="loss weight of the neutral class (its share of each row's target)")
    ap.add_argument("--binary-source-weight", type=float, default=1.0,
                    help="loss weight of rows from binary-only sources (rotten-tomatoes)")
    ap.add_argument("--llrd", type=float, default=1.0,
                    help="layer-wise lr decay: layer k of n gets lr * llrd**(n-k), embeddings "
                         "lr * llrd**(n+1); pooler and head the full lr (1.0 = off)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    seed_all(args.seed)
    os.makedirs(args.out, exist_ok=True)

    tok = BertTokenizer.from_pretrained(args.base, do_lower_case=True)
    model = BertForSequenceClassification.from_pretrained(
        args.init or args.base, num_labels=3, id2label=ID2LABEL, label2id=LABEL2ID,
        output_loading_info=False)
    model.config.architectures = ["BertForSequenceClassification"]
    if args.freeze_word_embeddings:
        model.bert.embeddings.word_embeddings.weight.requires_grad_(False)

    train_rows = read_tsv(args.train)
    dev_rows = read_tsv(args.dev)
    t0 = time.time()
    tr_ids = encode(tok, train_rows, args.max_length)
    dev_ids = encode(tok, dev_rows, args.max_length)
    labels = torch.tensor([LABEL2ID[r["label"]] for r in train_rows])
    binary = torch.tensor([r["source"] in BINARY_ONLY_SOURCES for r in train_rows])
    soft = soft_targets(train_rows, args.soft_labels)
    class_w = torch.tensor([1.0, args.neutral_weight, 1.0])
    print(f"tokenized {len(tr_ids)} train / {len(dev_ids)} dev in {time.time()-t0:.1f}s", flush=True)

    opt = torch.optim.AdamW(param_groups(model, args.lr, args.weight_decay, args.llrd), lr=args.lr)
    rng = random.Random(args.seed)
    lengths = [len(s) for s in tr_ids]
    steps_per_epoch = math.ceil(len(tr_ids) / args.batch_size)
    total = steps_per_epoch * args.epochs
    if args.max_steps:
        total = args.max_steps
        sched = get_linear_schedule_with_warmup(opt, args.warmup_steps, total)
    else:
        sched = get_linear_schedule_with_warmup(opt, int(args.warmup * total), total)
    ce = torch.nn.CrossEntropyLoss(reduction="none")

    history = []
    best = None
    t_train = time.time()
    step = 0
    n_epochs = args.epochs if not args.max_steps else 10 ** 6
    for epoch in range(1, n_epochs + 1):
        model.train()
        te = time.time()
        run_loss = 0.0
        for bi, batch in enumerate(make_batches(lengths, args.batch_size, rng)):
            if args.max_steps and step >= args.max_steps:
                break
            input_ids, attn = collate(tr_ids, batch)
            y = labels[batch]
            b = binary[batch]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(args.bf16)):
                logits = model(input_ids=input_ids, attention_mask=attn).logits
            logits = logits.float()
            if soft is not None:
                loss3 = -(soft[batch] * class_w * torch.log_softmax(logits, dim=-1)).sum(-1)
            else:
                loss3 = ce(logits, y) * class_w[y]
            if args.rt_binary_loss and b.any():
                # negative(0) vs positive(2) only; y is 0 or 2 for these rows
                loss2 = ce(logits[:, [0, 2]], (y == 2).long())
                loss_vec = torch.where(b, loss2 * args.binary_source_weight, loss3)
            else:
                loss_vec = loss3
            loss = loss_vec.mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            run_loss += loss.item()
            if (bi + 1) % 50 == 0:
                el = time.time() - te
                print(f"epoch {epoch} step {bi+1}/{steps_per_epoch} loss {run_loss/50:.4f} "
                      f"lr {sched.get_last_lr()[0]:.2e} {el:.0f}s "
                      f"eta_epoch {el/(bi+1)*(steps_per_epoch-bi-1):.0f}s", flush=True)
                run_loss = 0.0
            if args.max_steps and args.save_every and step % args.save_every == 0:
                model.save_pretrained(os.path.join(args.out, "last"), safe_serialization=True)
                tok.save_pretrained(os.path.join(args.out, "last"))
                print(f"saved last at step {step}", flush=True)
        ep_time = time.time() - te
        if args.max_steps or not args.eval:
            if args.max_steps and step < args.max_steps:
                continue  # next pass over the data
            model.save_pretrained(os.path.join(args.out, "best"), safe_serialization=True)
            tok.save_pretrained(os.path.join(args.out, "best"))
            history.append({"epoch": epoch, "steps": step, "epoch_time_s": ep_time})
            print(f"saved after {step} steps (no dev evaluation)", flush=True)
            if args.max_steps or (args.stop_after_epochs and epoch >= args.stop_after_epochs):
                break
            continue
        probs = predict(model, dev_ids)
        m = metrics(dev_rows, *decisions_from_probs(probs))
        ov = m["overall"]
        worst_bin = min(m[s]["bin_acc"] for s in m if s != "overall")
        rec = {"epoch": epoch, "epoch_time_s": ep_time, "macro_f1": ov["macro_f1"],
               "acc3": ov["acc3"], "bin_acc": ov["bin_acc"], "worst_source_bin_acc": worst_bin,
               "per_source_bin_acc": {s: m[s]["bin_acc"] for s in m if s != "overall"},
               "alert": {str(t): v for t, v in ov["alert"].items()}}
        history.append(rec)
        print(json.dumps({k: v for k, v in rec.items() if k != "alert"}), flush=True)
        if best is None or ov["macro_f1"] > best:
            best = ov["macro_f1"]
            model.save_pretrained(os.path.join(args.out, "best"), safe_serialization=True)
            tok.save_pretrained(os.path.join(args.out, "best"))
            print(f"saved best (epoch {epoch}, macro_f1 {best:.4f})", flush=True)
        if args.stop_after_epochs and epoch >= args.stop_after_epochs:
            break
    summary = {"args": vars(args), "train_wall_s": time.time() - t_train, "history": history,
               "best_macro_f1": best,
               "best_epoch": max(history, key=lambda h: h.get("macro_f1", 0))["epoch"]}
    with open(os.path.join(args.out, "history.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"done in {summary['train_wall_s']:.0f}s; best epoch {summary['best_epoch']}", flush=True)


if __name__ == "__main__":
    main()

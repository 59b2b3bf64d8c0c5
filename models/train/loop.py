"""The resumable training loop shared by teacher.py and distill.py.

Every `save_every` steps, and after each epoch, OUT/ckpt.pt gets the weights, optimizer,
scheduler, torch RNG state and the position in the epoch (written to a temp file and renamed, so
a kill mid-write leaves the previous checkpoint whole). Started again with the same OUT, the loop
continues from there with the batches it would have seen: each epoch's batch order comes from its
own seeded RNG, so no data-loader state needs saving.
"""
import json
import os
import random
import time

import torch

from common import decisions_from_probs, metrics


def collate(ids_list, batch, pad_id):
    """Padded input ids and attention mask for the rows `batch` of `ids_list`."""
    seqs = [ids_list[i] for i in batch]
    L = max(len(s) for s in seqs)
    input_ids = torch.full((len(seqs), L), pad_id, dtype=torch.long)
    attn = torch.zeros((len(seqs), L), dtype=torch.long)
    for j, s in enumerate(seqs):
        input_ids[j, :len(s)] = torch.tensor(s)
        attn[j, :len(s)] = 1
    return input_ids, attn


@torch.no_grad()
def predict_logits(model, ids_list, pad_id, device="cpu", batch_size=64, progress=""):
    """Logits (N, n_labels) as lists, in the order of ids_list, batched by length."""
    from train import make_batches
    model.eval()
    lengths = [len(s) for s in ids_list]
    out = [None] * len(ids_list)
    batches = make_batches(lengths, batch_size, None, shuffle=False)
    t0 = time.time()
    for k, batch in enumerate(batches):
        input_ids, attn = collate(ids_list, batch, pad_id)
        logits = model(input_ids=input_ids.to(device), attention_mask=attn.to(device)).logits.float().cpu()
        for i, row in zip(batch, logits.tolist()):
            out[i] = row
        if progress and (k + 1) % 20 == 0:
            el = time.time() - t0
            print(f"{progress}: {k+1}/{len(batches)} batches, {el:.0f}s, eta {el/(k+1)*(len(batches)-k-1):.0f}s",
                  flush=True)
    return out


def save_ckpt(path, model, opt, sched, state):
    tmp = path + ".tmp"
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                "torch_rng": torch.get_rng_state(), "state": state}, tmp)
    os.replace(tmp, path)


def run(model, opt, sched, *, out, epochs, batches_of, loss_of, on_epoch_end, save_every, device):
    """Trains for `epochs` epochs, resuming from OUT/ckpt.pt when it exists.

    batches_of(epoch) -> list of row-index lists (deterministic per epoch);
    loss_of(batch) -> scalar loss tensor; on_epoch_end(epoch, state) evaluates and may update
    state["history"] / state["best"]. Returns the final state."""
    ckpt_path = os.path.join(out, "ckpt.pt")
    state = {"epoch": 1, "batch": 0, "step": 0, "history": [], "best": None, "train_s": 0.0}
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        torch.set_rng_state(ck["torch_rng"])
        state = ck["state"]
        print(f"resumed at epoch {state['epoch']} batch {state['batch']} (step {state['step']})", flush=True)
    while state["epoch"] <= epochs:
        epoch = state["epoch"]
        batches = batches_of(epoch)
        model.train()
        t_seg, run_loss, n_loss = time.time(), 0.0, 0
        for bi in range(state["batch"], len(batches)):
            loss = loss_of(batches[bi])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            state["step"] += 1
            state["batch"] = bi + 1
            run_loss += loss.item()
            n_loss += 1
            if (bi + 1) % 20 == 0:
                el = time.time() - t_seg
                print(f"epoch {epoch} step {bi+1}/{len(batches)} loss {run_loss/n_loss:.4f} "
                      f"lr {sched.get_last_lr()[0]:.2e} {el/n_loss:.2f}s/step "
                      f"eta_epoch {el/n_loss*(len(batches)-bi-1):.0f}s", flush=True)
            if (bi + 1) % save_every == 0:
                state["train_s"] += time.time() - t_seg
                save_ckpt(ckpt_path, model, opt, sched, state)
                print(f"checkpoint at step {state['step']}", flush=True)
                t_seg, run_loss, n_loss = time.time(), 0.0, 0
                model.train()
        state["train_s"] += time.time() - t_seg
        on_epoch_end(epoch, state)
        state["epoch"] += 1
        state["batch"] = 0
        save_ckpt(ckpt_path, model, opt, sched, state)
    return state


def dev_figures(epoch, logits, dev_rows):
    probs = torch.softmax(torch.tensor(logits), dim=-1).tolist()
    m = metrics(dev_rows, *decisions_from_probs(probs))
    ov = m["overall"]
    return {"epoch": epoch, "macro_f1": ov["macro_f1"], "acc3": ov["acc3"], "bin_acc": ov["bin_acc"],
            "per_source_bin_acc": {s: m[s]["bin_acc"] for s in m if s != "overall"},
            "alert": {str(t): v for t, v in ov["alert"].items()}}


def fit(model, tok, opt, sched, *, args, lengths, loss_of, dev_ids, dev_rows, pad_id, device):
    """[`run`] over seeded length-bucketed batches of `lengths`; after each epoch the dev figures
    go into the history and the best epoch by macro-F1 is saved to OUT/best (with its dev
    logits, dev_logits.json). Writes OUT/history.json. `args`: out, epochs, batch_size, seed,
    save_every (and everything else is recorded)."""
    from train import make_batches

    def on_epoch_end(epoch, state):
        logits = predict_logits(model, dev_ids, pad_id, device, progress="dev")
        rec = dev_figures(epoch, logits, dev_rows)
        state["history"].append(rec)
        print(json.dumps({k: v for k, v in rec.items() if k != "alert"}), flush=True)
        if state["best"] is None or rec["macro_f1"] > state["best"]:
            state["best"] = rec["macro_f1"]
            model.save_pretrained(os.path.join(args.out, "best"), safe_serialization=True)
            tok.save_pretrained(os.path.join(args.out, "best"))
            with open(os.path.join(args.out, "best", "dev_logits.json"), "w") as f:
                json.dump(logits, f)
            print(f"saved best (epoch {epoch}, macro_f1 {state['best']:.4f})", flush=True)

    state = run(model, opt, sched, out=args.out, epochs=args.epochs,
                batches_of=lambda e: make_batches(lengths, args.batch_size, random.Random(args.seed * 1000 + e)),
                loss_of=loss_of, on_epoch_end=on_epoch_end, save_every=args.save_every, device=device)
    summary = {"args": vars(args), "train_wall_s": state["train_s"], "history": state["history"],
               "best_macro_f1": state["best"]}
    with open(os.path.join(args.out, "history.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"done: best dev macro-F1 {state['best']:.4f}", flush=True)

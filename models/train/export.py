"""Export a trained checkpoint (save_pretrained dir, fp32) to the shipped models/sentiment layout.

python export.py --ckpt /tmp/run/best --dev dev.tsv --out models/sentiment

Ships fp16 safetensors if loading the fp16 file into an fp32 model keeps every dev-set
probability within --tol (default 1e-3) of the fp32 model; otherwise ships fp32.
Shipped files: config.json, model.safetensors, vocab.txt, tokenizer_config.json (an old
calibration.json is removed: calibrate.py fits the new weights' one). The probabilities it checks
and saves (--probs-out) are the raw softmax(logits), before any temperature.
"""
import argparse
import hashlib
import json
import os
import shutil
import tempfile

import torch
from transformers import BertForSequenceClassification, BertTokenizer

from common import ID2LABEL, LABEL2ID, read_tsv
from train import encode, predict

TOKENIZER_CONFIG = {
    "tokenizer_class": "BertTokenizer",
    "do_lower_case": True,
    "strip_accents": True,  # explicit; same as the uncased default (None + do_lower_case)
    "tokenize_chinese_chars": True,
    "do_basic_tokenize": True,
    "never_split": None,
    "unk_token": "[UNK]",
    "sep_token": "[SEP]",
    "pad_token": "[PAD]",
    "cls_token": "[CLS]",
    "mask_token": "[MASK]",
    "model_max_length": 128,
    "clean_up_tokenization_spaces": True,
}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_fp32(d):
    m = BertForSequenceClassification.from_pretrained(d, torch_dtype=torch.float32)
    m.eval()
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--dev", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--probs-out", default="", help="save the shipped model's dev probabilities here (for eval.py --probs)")
    ap.add_argument("--check-n", type=int, default=0, help="only check N dev texts spread over the file (0 = all)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    tok = BertTokenizer.from_pretrained(args.ckpt, do_lower_case=True)
    rows = read_tsv(args.dev)
    if args.check_n:
        rows = rows[::max(1, len(rows) // args.check_n)][:args.check_n]
    ids = encode(tok, rows, 128)

    m32 = load_fp32(args.ckpt)
    p32 = torch.tensor(predict(m32, ids))

    with tempfile.TemporaryDirectory() as tmp:
        m16 = load_fp32(args.ckpt).half()
        m16.save_pretrained(tmp, safe_serialization=True)
        m16r = load_fp32(tmp)  # fp16 file loaded into an fp32 model, as the daemon will
        assert next(m16r.parameters()).dtype == torch.float32
        p16 = torch.tensor(predict(m16r, ids))
        maxdiff = (p16 - p32).abs().max().item()
        flips = int((p16.argmax(1) != p32.argmax(1)).sum())
        use16 = maxdiff < args.tol
        print(f"fp16 vs fp32 on {len(rows)} dev texts: max |dp| = {maxdiff:.3e}, argmax flips = {flips}; "
              f"shipping {'fp16' if use16 else 'fp32'}")

        src = tmp if use16 else None
        if src is None:
            src = tempfile.mkdtemp()
            m32.save_pretrained(src, safe_serialization=True)
        os.makedirs(args.out, exist_ok=True)
        shutil.copy(os.path.join(src, "model.safetensors"), os.path.join(args.out, "model.safetensors"))
        os.chmod(os.path.join(args.out, "model.safetensors"), 0o644)
        cfg = json.load(open(os.path.join(src, "config.json")))
    cfg.pop("_name_or_path", None)
    cfg["architectures"] = ["BertForSequenceClassification"]
    cfg["id2label"] = {str(k): v for k, v in ID2LABEL.items()}
    cfg["label2id"] = dict(LABEL2ID)
    cfg["problem_type"] = "single_label_classification"
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    shutil.copy(os.path.join(args.ckpt, "vocab.txt"), os.path.join(args.out, "vocab.txt"))
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump(TOKENIZER_CONFIG, f, indent=2)
        f.write("\n")
    cal = os.path.join(args.out, "calibration.json")
    if os.path.exists(cal):
        os.remove(cal)  # an old fit does not belong to new weights: calibrate.py writes the new one
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "export_check.json"), "w") as f:
        json.dump({"fp16_vs_fp32_max_abs_prob_diff": maxdiff, "argmax_flips": flips,
                   "dev_texts": len(rows), "shipped_dtype": "float16" if use16 else "float32"}, f, indent=1)

    # final sanity: the exported dir loads and reproduces the chosen probabilities (on a sample)
    tok2 = BertTokenizer.from_pretrained(args.out)
    assert tok2.do_lower_case and tok2.vocab == tok.vocab
    mo = load_fp32(args.out)
    ref = p16 if use16 else p32
    sample = list(range(0, len(rows), max(1, len(rows) // 64)))
    po = torch.tensor(predict(mo, encode(tok2, [rows[i] for i in sample], 128)))
    print(f"exported dir reload: max |dp| vs reference = {(po - ref[sample]).abs().max().item():.3e}")
    if args.probs_out:
        with open(args.probs_out, "w") as f:
            json.dump({"model_sha256": sha256(os.path.join(args.out, "model.safetensors")),
                       "dev": os.path.abspath(args.dev), "n": len(rows), "probs": ref.tolist()}, f)
    print(f"wrote {args.out}: " + ", ".join(f"{n} {os.path.getsize(os.path.join(args.out, n))}B"
                                          for n in sorted(os.listdir(args.out))))


if __name__ == "__main__":
    main()

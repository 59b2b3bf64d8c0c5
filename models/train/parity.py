"""Write tests/data/model_parity.json: reference probabilities from the SHIPPED files
(models/sentiment, fp16 weights loaded into an fp32 model), shipped vocab, lowercasing +
accent stripping (BertTokenizer, do_lower_case=True), truncation at max_length 128, no padding
(batch of one).

python parity.py --model models/sentiment --out tests/data/model_parity.json
"""
import argparse
import json
import os

import torch
from transformers import BertForSequenceClassification, BertTokenizer, BertTokenizerFast

LONG = ("I have been a customer of this company for almost six years and I have always recommended "
        "them to friends, but the last few months have been a different story. The app crashes every "
        "time I try to upload a file, support takes days to reply, and when they finally do they send a "
        "canned answer that does not address the problem at all. I asked twice for the ticket to be "
        "escalated and nothing happened. I am honestly thinking about moving my whole team to another "
        "provider unless something changes soon, which is a shame because the product used to be great "
        "and the people behind it clearly cared.")

TEXTS = [
    "the support line kept me on hold for three hours",
    "They refused my refund and stopped answering emails.",
    "Huge thanks to the team, the fix works perfectly now!",
    "Acme announced new pricing for the Pro plan starting in March.",
    "ok",
    LONG,
    "Le café était très bon, merci beaucoup 😊👍 — naïve résumé",
    "THIS IS THE WORST SERVICE I HAVE EVER USED. CANCEL MY ACCOUNT NOW!!!",
    LONG + " " + LONG,  # > 128 tokens: exercises truncation
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(2)
    tok = BertTokenizer.from_pretrained(args.model)
    fast = BertTokenizerFast.from_pretrained(args.model)
    model = BertForSequenceClassification.from_pretrained(args.model, torch_dtype=torch.float32)
    model.eval()
    assert next(model.parameters()).dtype == torch.float32
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    cal = os.path.join(args.model, "calibration.json")
    temperature = json.load(open(cal))["temperature"] if os.path.exists(cal) else 1.0
    cases = []
    with torch.no_grad():
        for text in TEXTS:
            enc = tok(text, truncation=True, max_length=128, return_tensors="pt")
            ids = enc["input_ids"][0].tolist()
            fids = fast(text, truncation=True, max_length=128)["input_ids"]
            assert ids == fids, (text, ids, fids)
            logits = model(**enc).logits[0].double()
            p = torch.softmax(logits / temperature, dim=-1).tolist()
            cases.append({"text": text, "num_tokens": len(ids), "input_ids": ids,
                          "tokens": tok.convert_ids_to_tokens(ids),
                          "scores": {l: float(v) for l, v in zip(labels, p)}})
    out = {
        "model": "models/sentiment",
        "max_length": 128,
        "tokenizer": {
            "class": "BertTokenizer (WordPiece, vocab.txt)",
            "do_lower_case": True,
            "strip_accents": True,
            "note": "tokenizer_config.json sets strip_accents=true (the same as the uncased BERT default): "
                    "accents ARE stripped (NFD + drop combining marks) after lowercasing; characters not "
                    "in the vocab (e.g. most emoji) become [UNK]. Sequence = [CLS] tokens [SEP], truncated "
                    "to 128 ids including the specials; token_type_ids all 0; attention mask all 1.",
        },
        "weights": "model.safetensors as shipped, loaded into an fp32 model; softmax over fp32 logits "
                   "divided by calibration.json's temperature",
        "temperature": temperature,
        "cases": cases,
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")
    for c in cases:
        print(c["num_tokens"], {k: round(v, 4) for k, v in c["scores"].items()}, c["text"][:60])


if __name__ == "__main__":
    main()

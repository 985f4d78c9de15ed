#!/usr/bin/env bash
# Issue-6 benchmark: ADELIE's alignment pipeline run for real on SmolLM2-135M-Instruct, then base vs SFT vs
# SFT+DPO on held-out data, all with the `ieforge` command itself.
#   corpus: 400 source examples from each of 8 training sets (SemEval and CrossNER are kept out);
#   sft:    LoRA r=8 on the first $SFT_LIMIT train-split examples, one epoch;
#   pairs:  $PAIRS corpus examples sampled 5 times at T=1 by the SFT model;
#   dpo:    LoRA r=8 on the pairs, one epoch, beta 0.1;
#   eval:   CrossNER AI / literature / music test and CoNLL-2003 test (first $N sentences each, strict
#           span F1) and SemEval dev (first $R pairs, QA4RE letters).
# Usage (from the repository root): bash benchmarks/align_adelie.sh [steps...]
#   steps: corpus sft pairs dpo eval-base eval-sft eval-dpo (default: all, in that order)
# Work files go to $RUN (default runs/align, git-ignored); reports to benchmarks/results/align_*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
D=${IEFORGE_DATA:-../shared/data}
RUN=${RUN:-runs/align}
N=${N:-40}
R=${R:-200}
SFT_LIMIT=${SFT_LIMIT:-1700}
PAIRS=${PAIRS:-200}
BASE=${BASE:-smollm2-135m}
OUT=benchmarks/results
mkdir -p "$RUN" "$OUT"
steps=${*:-corpus sft pairs dpo eval-base eval-sft eval-dpo}

source benchmarks/common.sh

evaluate() {  # evaluate NAME MODEL
  timed "eval-ner-$1" ieforge eval ner --model "$2" --limit "$N" \
    --data crossner_ai="$D/crossner_ai/test.txt" \
    --data crossner_literature="$D/crossner_literature/test.txt" \
    --data crossner_music="$D/crossner_music/test.txt" \
    --data conll2003="$D/conll2003/test.txt" \
    --out "$OUT/align_ner_$1.json"
  timed "eval-re-$1" ieforge eval re --model "$2" --limit "$R" \
    --data semeval="$D/semeval2010_task8/DEV_SUBSET_7201-8000_FROM_TRAIN.TXT" \
    --out "$OUT/align_re_$1.json"
}

for step in $steps; do
  case $step in
  corpus)
    timed corpus ieforge corpus build --out "$RUN/corpus.jsonl" --limit 400 --seed 0 \
      "${TRAIN_SETS[@]}"
    ;;
  sft)
    timed sft ieforge train sft --model "$BASE" --corpus "$RUN/corpus.jsonl" --out "$RUN/sft" \
      --limit "$SFT_LIMIT" --max-length 384 --save-steps 50 --no-packing --lora-dropout 0.05
    ;;
  pairs)
    timed pairs ieforge train pairs --model "$RUN/sft" --corpus "$RUN/corpus.jsonl" --out "$RUN/pairs.jsonl" \
      --samples 5 --limit "$PAIRS" --batch-size 20
    ;;
  dpo)
    timed dpo ieforge train dpo --model "$RUN/sft" --pairs "$RUN/pairs.jsonl" --out "$RUN/dpo"
    ;;
  eval-base) evaluate base "$BASE" ;;
  eval-sft) evaluate sft "$RUN/sft" ;;
  eval-dpo) evaluate dpo "$RUN/dpo" ;;
  *)
    echo "unknown step: $step" >&2
    exit 2
    ;;
  esac
done

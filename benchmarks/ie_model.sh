#!/usr/bin/env bash
# Issue 26: ieforge's own compact IE model, from nothing, with the `ieforge` command itself.
#   corpus:   the multi-task corpus (benchmarks/ie_model_corpus.sh: QA4RE relation questions, entity typing,
#             events, tables) mixed with NER conversations from `ieforge distill build` (Pile-NER subset and
#             four supervised NER training sets, per-type questions and one all-types question per text,
#             negatives answered []); zero-shot test sets are refused by the builders themselves
#   pilot:    each candidate base trained on the same first $PILOT examples of the mix, then eval-dev
#   sft:      the long run: LoRA on $BASE over the whole mix, one epoch, checkpoints every $SAVE steps in
#             $RUN/sft (outside the repository by default); the same command resumes an interrupted run
#   eval-dev: NER on the dev splits of the supervised sets (first $N_DEV sentences; one all-types question
#             per text) and QA4RE letters on the first 10 FewRel instances of each relation (never trained
#             on), for MODEL=... NAME=...
# Usage (from the repository root): bash benchmarks/ie_model.sh [steps...]   (default: corpus sft)
# Work files go to $RUN (default ~/.cache/ieforge/runs/ie-model); reports to benchmarks/results/ie_model_*.
set -euo pipefail
cd "$(dirname "$0")/.."
D=${IEFORGE_DATA:-../shared/data}
RUN=${RUN:-$HOME/.cache/ieforge/runs/ie-model}
BASE=${BASE:-qwen2.5-coder-0.5b}
PILOT=${PILOT:-600}
PILOT_BASES=${PILOT_BASES:-smollm2-135m qwen2.5-coder-0.5b}
SAVE=${SAVE:-50}
# one packed row of 1024 tokens per forward pass, four per optimizer step: the compiled backward of four
# rows at once held 6.9 GB for SmolLM2
BATCH=${BATCH:-1}
ACCUM=${ACCUM:-4}
N_DEV=${N_DEV:-50}
OUT=benchmarks/results
mkdir -p "$RUN" "$OUT"
steps=${*:-corpus sft}

source benchmarks/common.sh

sft() {  # sft OUT [ieforge train sft options...]
  local out=$1
  shift
  ieforge train sft --corpus "$RUN/train.jsonl" --out "$out" --save-steps "$SAVE" --seed 0 --compile \
    --batch-size "$BATCH" --grad-accum "$ACCUM" "$@"
}

eval_dev() {  # eval_dev NAME MODEL
  timed "eval-dev-ner-$1" ieforge eval ner --model "$2" --limit "$N_DEV" --prompt uniner-json-all \
    --typing off --cache "$RUN/cache" --out "$OUT/ie_model_dev_ner_$1.json" \
    --data conll2003="$D/conll2003/valid.txt" --data wnut17="$D/wnut17/emerging.dev.conll" \
    --data ncbi_disease="$D/ncbi_disease/devel.tsv" --data bc5cdr="$D/bc5cdr/devel.tsv"
  timed "eval-dev-re-$1" python benchmarks/re_qa4re.py --dataset fewrel --per-relation 10 --models "$2" \
    --configs qa4re-letters,vanilla --data-dir "$D" --out "$OUT/ie_model_dev_re_$1.json"
  # the reports name the model by its folder: this machine's folders stay out of the repository
  sed -i "s|$RUN/|\$RUN/|g" "$OUT/ie_model_dev_ner_$1.json" "$OUT/ie_model_dev_re_$1.json"
}

for step in $steps; do
  case $step in
  corpus)
    timed ner-corpus ieforge distill build --annotations \
      "$D/pile_ner/slimer_subset/5pos_5neg_perNE_top391NEs_FalseDef/validation.jsonl" \
      --dataset conll2003="$D/conll2003/train.txt" --dataset wnut17="$D/wnut17/wnut17train.conll" \
      --dataset ncbi_disease="$D/ncbi_disease/train.tsv" --dataset bc5cdr="$D/bc5cdr/train.tsv" \
      --dataset-limit 3000 --negatives 5 --all-types-share 0.5 --prompt uniner-json --max-chars 600 \
      --seed 0 --out "$RUN/ner.jsonl"
    D=$D timed corpus bash benchmarks/ie_model_corpus.sh "$RUN/train.jsonl" "$RUN/ner.jsonl"
    ;;
  pilot)
    for base in $PILOT_BASES; do
      timed "pilot-sft-$base" sft "$RUN/pilot-$base" --model "$base" --limit "$PILOT"
      eval_dev "pilot-$base" "$RUN/pilot-$base"
    done
    ;;
  sft) timed sft sft "$RUN/sft" --model "$BASE" ;;
  eval-dev) eval_dev "${NAME:?NAME=...}" "${MODEL:?MODEL=...}" ;;
  *)
    echo "unknown step: $step" >&2
    exit 2
    ;;
  esac
done

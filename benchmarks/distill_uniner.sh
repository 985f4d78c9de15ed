#!/usr/bin/env bash
# Issue-7 benchmark: UniversalNER targeted distillation run for real, teacher -> data -> SmolLM2 student, all
# with the `ieforge` command itself.
#   passages: $PASSAGES passages (<= 300 characters) drawn from the text of 8 training sets (no labels;
#             SemEval, CrossNER and RAMS dev, an evaluation set, are kept out: `corpus build` and
#             `distill passages` refuse them);
#   annotate: the teacher ($TEACHER, the largest catalogue model) annotates them with open types
#             ($TEACHER_PROMPT); the Pile-NER-derived ChatGPT annotations on disk are the second teacher;
#   build:    UniversalNER conversations from both, $NEG frequency-sampled negative types per passage the
#             local teacher annotated completely, passages cut to <= 600 characters;
#   sft:      the alignment issue's SFT step on them (LoRA r=8, one epoch, loss on every answer);
#   eval-*:   CrossNER AI / literature / music test, first $N sentences each, strict span F1, every type
#             asked for every sentence (the student with the published `uniner` prompt it learned);
#   speed:    teacher and student side by side on the first $S test sentences of each domain.
# Usage (from the repository root): bash benchmarks/distill_uniner.sh [steps...]
#   steps: passages annotate build sft eval-student eval-teacher eval-base speed teacher-prompts
#          (default: all)
# Work files go to $RUN (default runs/distill, git-ignored); reports to benchmarks/results/distill_*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
D=${IEFORGE_DATA:-../shared/data}
RUN=${RUN:-runs/distill}
N=${N:-40}
S=${S:-5}
PASSAGES=${PASSAGES:-8}
NEG=${NEG:-2}
TEACHER=${TEACHER:-qwen2.5-coder-1.5b}
TEACHER_PROMPT=${TEACHER_PROMPT:-uniner-teacher}
STUDENT=${STUDENT:-smollm2-135m}
PILE=$D/pile_ner/slimer_subset/5pos_5neg_perNE_top391NEs_FalseDef/validation.jsonl
OUT=benchmarks/results
mkdir -p "$RUN" "$OUT"
steps=${*:-passages annotate build sft eval-student eval-teacher eval-base speed teacher-prompts}

source benchmarks/common.sh

evaluate() {  # evaluate NAME MODEL PROMPT
  timed "eval-ner-$1" ieforge eval ner --model "$2" --prompt "$3" --limit "$N" \
    --data crossner_ai="$D/crossner_ai/test.txt" \
    --data crossner_literature="$D/crossner_literature/test.txt" \
    --data crossner_music="$D/crossner_music/test.txt" \
    --out "$OUT/distill_ner_$1.json"
}

for step in $steps; do
  case $step in
  passages)
    timed passages ieforge distill passages --out "$RUN/passages.jsonl" --max-chars 300 --limit "$PASSAGES" \
      "${TRAIN_SETS[@]}"
    ;;
  annotate)
    timed annotate ieforge distill annotate --teacher "$TEACHER" --prompt "$TEACHER_PROMPT" \
      --passages "$RUN/passages.jsonl" --out "$RUN/annotations.jsonl" --batch-size 8 --max-new-tokens 256
    ;;
  build)
    timed build ieforge distill build --annotations "$PILE" --annotations "$RUN/annotations.jsonl" \
      --negatives "$NEG" --max-chars 600 --out "$RUN/train.jsonl"
    ;;
  sft)
    timed sft ieforge train sft --model "$STUDENT" --corpus "$RUN/train.jsonl" --out "$RUN/student" \
      --max-length 512 --save-steps 50 --no-packing --lora-dropout 0.05
    ;;
  eval-student) evaluate student "$RUN/student" uniner ;;
  eval-teacher) evaluate teacher "$TEACHER" uniner-json ;;
  eval-base) evaluate base-uniner "$STUDENT" uniner ;;
  teacher-prompts)  # the teacher under ieforge's open-json prompt on 2 passages per dataset, compared
    python -c 'import json, sys
seen = {}
for line in open(sys.argv[1]):
    p = json.loads(line)
    if seen.setdefault(p["source"], 0) < 2:
        seen[p["source"]] += 1
        print(line, end="")' "$RUN/passages.jsonl" >"$RUN/passages_2each.jsonl"
    timed annotate-open-json ieforge distill annotate --teacher "$TEACHER" --prompt open-json \
      --passages "$RUN/passages_2each.jsonl" --out "$RUN/annotations_open-json.jsonl" --batch-size 8 \
      --max-new-tokens 256
    python benchmarks/distill_teacher_prompts.py "$RUN/annotations.jsonl" "$RUN/annotations_open-json.jsonl" \
      --out "$OUT/distill_teacher_prompts.json"
    ;;
  speed)
    timed speed python benchmarks/ner_default_model.py --split test --limit "$S" \
      --models "$STUDENT@uniner,$RUN/student@uniner,$TEACHER@uniner-json" --out "$OUT/distill_speed.json"
    ;;
  *)
    echo "unknown step: $step" >&2
    exit 2
    ;;
  esac
done

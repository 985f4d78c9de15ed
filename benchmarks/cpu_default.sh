#!/usr/bin/env bash
# Issue-10 benchmark and the one command that rebuilds the shipped NER adapter from scratch.
#
#   adapter:  everything the shipped adapter needs, from nothing: the distillation benchmark's passages and
#             teacher annotations (benchmarks/distill_uniner.sh passages annotate), then build, sft, package
#   build:    UniversalNER conversations from the local teacher's and the Pile-NER (ChatGPT) annotations,
#             each with $TYPING multiple-choice typing questions (prompt typing-mc) added
#   sft:      LoRA r=8 on SmolLM2-135M-Instruct, one epoch, seed 0 (ieforge train sft)
#   package:  copy the adapter (weights, config, training record) into src/ieforge/models/adapters/
#   eval:     NER on CrossNER AI / literature / music test and CoNLL-2003 test (every type asked; strict
#             span F1): eval-adapter, the shipped adapter single- and two-stage on the first $N sentences
#             of each; eval-qwen, Qwen2.5-Coder-0.5B single-stage and with calibrated cloze typing on the
#             same, and with the threshold and flat setting chosen by tune; eval-base, the other
#             catalogue models and readings on the first $N_BASE ($N_BIG for Qwen2.5-Coder-1.5B)
#   tune:     the typing threshold and flat NER chosen on the dev splits (first $N sentences of each)
#   eval-more: the default (as recorded), the previous default and the adapter on $N_MORE sentences
#   re:       QA4RE on the first $RE_N SemEval dev pairs, base model vs adapter
#   speed:    seconds per sentence side by side in one quiet run ($S CrossNER test sentences per domain)
# Usage (from the repository root): bash benchmarks/cpu_default.sh [steps...]   (default: adapter)
# Work files go to $RUN (default runs/cpu-default, git-ignored); reports to benchmarks/results/cpu_default_*.
set -euo pipefail
cd "$(dirname "$0")/.."
D=${IEFORGE_DATA:-../shared/data}
RUN=${RUN:-runs/cpu-default}
DISTILL_RUN=${DISTILL_RUN:-runs/distill}
N=${N:-40}
N_BASE=${N_BASE:-12}
N_BIG=${N_BIG:-5}
N_MORE=${N_MORE:-100}
RE_N=${RE_N:-100}
S=${S:-5}
TYPING=${TYPING:-0}
DEFAULT_TYPING=${DEFAULT_TYPING:-off}
MAX_LENGTH=${MAX_LENGTH:-512}
ADAPTER=src/ieforge/models/adapters/ner-smollm2-135m
PILE=$D/pile_ner/slimer_subset/5pos_5neg_perNE_top391NEs_FalseDef/validation.jsonl
OUT=benchmarks/results
mkdir -p "$RUN" "$OUT"
steps=${*:-adapter}

source benchmarks/common.sh

evaluate() {  # [SPLIT=dev] evaluate NAME N MODEL [ieforge eval ner options...]
  # the test splits, or with SPLIT=dev the dev splits (CoNLL-2003: valid)
  local name=$1 n=$2 model=$3 split=${SPLIT:-test} conll=${SPLIT:-test}
  if [ "$split" = dev ]; then conll=valid; fi
  shift 3
  timed "eval-$name" ieforge eval ner --model "$model" --limit "$n" --cache "$RUN/cache" \
    --data crossner_ai="$D/crossner_ai/$split.txt" \
    --data crossner_literature="$D/crossner_literature/$split.txt" \
    --data crossner_music="$D/crossner_music/$split.txt" \
    --data conll2003="$D/conll2003/$conll.txt" \
    --out "$OUT/cpu_default_$name.json" "$@"
}

for step in $steps; do
  case $step in
  adapter)
    RUN=$DISTILL_RUN bash benchmarks/distill_uniner.sh passages annotate
    bash "$0" build sft package
    ;;
  build)
    timed build ieforge distill build --annotations "$PILE" --annotations "$DISTILL_RUN/annotations.jsonl" \
      --negatives 2 --max-chars 600 --typing-questions "$TYPING" --out "$RUN/train.jsonl"
    ;;
  sft)
    timed sft ieforge train sft --model smollm2-135m --corpus "$RUN/train.jsonl" --out "$RUN/adapter" \
      --max-length "$MAX_LENGTH" --save-steps 50 --seed 0 --no-packing --lora-dropout 0.05
    ;;
  package)
    mkdir -p "$ADAPTER"
    cp "$RUN/adapter/adapter_model.safetensors" "$RUN/adapter/adapter_config.json" \
      "$RUN/adapter/ieforge-train.json" "$ADAPTER/"
    # the base is named by its catalogue name, not by the converted model's path on this machine
    # and the training record names its files without this machine's folders
    python - "$ADAPTER" <<'PY'
import json, sys
from pathlib import Path
folder = Path(sys.argv[1])
config = json.loads((folder / "adapter_config.json").read_text())
config["base_model_name_or_path"] = "smollm2-135m"
(folder / "adapter_config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
record = json.loads((folder / "ieforge-train.json").read_text())
for key in ("out", "corpus"):
    record["config"][key] = Path(record["config"][key]).name
(folder / "ieforge-train.json").write_text(json.dumps(record, indent=1) + "\n")
PY
    # the prompt it was trained with and the NER reading measured best with it (see benchmarks/README.md)
    printf '{"ner_prompt": "uniner", "typing": "%s", "typing_calibrate": false}\n' "$DEFAULT_TYPING" \
      >"$ADAPTER/ieforge-defaults.json"
    ;;
  eval) bash "$0" eval-adapter eval-qwen eval-base ;;
  eval-adapter)
    evaluate adapter "$N" ieforge-ner --typing off
    evaluate adapter-cloze-cal "$N" ieforge-ner --typing cloze --typing-calibrate
    ;;
  eval-qwen)
    # Qwen-0.5B single-stage and with calibrated cloze typing on as many sentences as the adapter; then
    # with the threshold and flat setting chosen on the dev splits (step tune)
    evaluate qwen2.5-coder-0.5b "$N" qwen2.5-coder-0.5b --typing off
    evaluate qwen2.5-coder-0.5b-cloze-cal "$N" qwen2.5-coder-0.5b --typing cloze --typing-calibrate \
      --typing-threshold 0 --no-flat
    evaluate qwen2.5-coder-0.5b-cloze-cal-flat "$N" qwen2.5-coder-0.5b --typing cloze --typing-calibrate \
      --typing-threshold 0.5 --flat
    ;;
  eval-more)
    # the default, the old default and the adapter on $N_MORE sentences per dataset (rows named -n$N_MORE)
    evaluate "qwen2.5-coder-0.5b-cloze-cal-flat-n$N_MORE" "$N_MORE" qwen2.5-coder-0.5b
    evaluate "qwen2.5-coder-0.5b-n$N_MORE" "$N_MORE" qwen2.5-coder-0.5b --typing off
    evaluate "adapter-n$N_MORE" "$N_MORE" ieforge-ner --typing off
    ;;
  tune)
    # calibrated cloze typing on the dev splits (CoNLL-2003: valid), every candidate kept and typed,
    # then the F1 of each threshold, with and without flat, computed from the typing scores
    SPLIT=dev evaluate dev_qwen2.5-coder-0.5b-cloze-cal "$N" qwen2.5-coder-0.5b --typing cloze \
      --typing-calibrate --typing-threshold 0 --no-flat
    python benchmarks/typing_rules.py "$OUT/cpu_default_dev_qwen2.5-coder-0.5b-cloze-cal.json" \
      --out "$OUT/cpu_default_dev_typing_rules.md"
    ;;
  text-prompt)
    # the cloze reading with one question per text (typing-cloze-text, cheaper) in the default setting,
    # on the dev sentences: compare with the threshold-0.5 flat row of the tune step's table
    SPLIT=dev evaluate dev_qwen2.5-coder-0.5b-cloze-text-cal-flat "$N" qwen2.5-coder-0.5b --typing cloze \
      --typing-calibrate --typing-threshold 0.5 --flat --typing-prompt typing-cloze-text
    ;;
  eval-base)
    # verify asks one question per (span, type): the slowest reading, and the weakest on SmolLM2 and the
    # adapter, so the Qwen models are measured with the other two
    evaluate smollm2-135m "$N_BASE" smollm2-135m --typing off
    for reading in mc verify cloze; do
      evaluate "smollm2-135m-$reading-cal" "$N_BASE" smollm2-135m --typing "$reading" --typing-calibrate
    done
    # (Qwen-0.5B single-stage and cloze: eval-qwen, on $N sentences)
    evaluate qwen2.5-coder-0.5b-mc-cal "$N_BASE" qwen2.5-coder-0.5b --typing mc --typing-calibrate
    evaluate qwen2.5-coder-0.5b-all-mc-cal "$N_BASE" qwen2.5-coder-0.5b --proposer all --typing mc \
      --typing-calibrate
    evaluate qwen2.5-coder-1.5b "$N_BIG" qwen2.5-coder-1.5b --typing off
    # two-stage with the 1.5B model was left out of the measured run for time; to add it:
    # evaluate qwen2.5-coder-1.5b-cloze-cal "$N_BIG" qwen2.5-coder-1.5b --typing cloze --typing-calibrate
    ;;
  re)
    for model in smollm2-135m ieforge-ner qwen2.5-coder-0.5b; do
      timed "re-$model" ieforge eval re --model "$model" --limit "$RE_N" \
        --data semeval="$D/semeval2010_task8/DEV_SUBSET_7201-8000_FROM_TRAIN.TXT" \
        --out "$OUT/cpu_default_re_$model.json"
    done
    ;;
  speed)
    timed speed python benchmarks/ner_default_model.py --split test --limit "$S" \
      --models "qwen2.5-coder-0.5b@uniner-json,qwen2.5-coder-0.5b@uniner-json+cloze+cal+t0.5+flat,qwen2.5-coder-0.5b@uniner-json+cloze+cal+t0.5+flat+prompt=typing-cloze-text,ieforge-ner@uniner,ieforge-ner@uniner+cloze+cal" \
      --batch-size 64 --out "$OUT/cpu_default_speed.json"
    ;;
  *)
    echo "unknown step: $step" >&2
    exit 2
    ;;
  esac
done

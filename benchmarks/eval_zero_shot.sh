#!/usr/bin/env bash
# Issue-4 benchmark figures, made with the `ieforge` command itself:
#   1. zero-shot NER on the test splits of CrossNER AI / literature / music, CoNLL-2003 and WNUT-17, the first
#      $N sentences of each, scored with the strict span protocol and the UniversalNER string-set protocol
#      (the second run reads the first run's predictions from the cache: one generation pass, two scorings);
#   2. the instruction-robustness study on the first $R SemEval dev examples (vanilla RE vs QA4RE framing,
#      5 wordings each, plus the QA framing under the built-in template sets; R=0 skips it).
# Usage (from the repository root): N=10 R=100 MODELS="smollm2-135m qwen2.5-coder-0.5b" bash benchmarks/eval_zero_shot.sh
set -euo pipefail
cd "$(dirname "$0")/.."
D=${IEFORGE_DATA:-../shared/data}
N=${N:-10}
R=${R:-100}
MODELS=${MODELS:-smollm2-135m qwen2.5-coder-0.5b}
OUT=benchmarks/results
for m in $MODELS; do
  for protocol in strict uniner; do
    ieforge eval ner --model "$m" --limit "$N" --protocol "$protocol" --cache "$OUT/.eval-cache" \
      --data crossner_ai="$D/crossner_ai/test.txt" \
      --data crossner_literature="$D/crossner_literature/test.txt" \
      --data crossner_music="$D/crossner_music/test.txt" \
      --data conll2003="$D/conll2003/test.txt" \
      --data wnut17="$D/wnut17/emerging.test.annotated" \
      --out "$OUT/ner_zero_shot_${m}_${protocol}.json"
  done
done
[ "$R" -gt 0 ] || exit 0   # R=0: NER only
for m in $MODELS; do
  ieforge robustness re --model "$m" --variants 5 --limit "$R" \
    --data semeval="$D/semeval2010_task8/DEV_SUBSET_7201-8000_FROM_TRAIN.TXT" \
    --out "$OUT/robustness_re_${m}.json" --plot "$OUT/robustness_re_${m}.png"
done

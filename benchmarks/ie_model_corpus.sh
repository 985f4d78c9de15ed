#!/usr/bin/env bash
# Issue-26 corpus: the multi-task training data of ieforge's own compact IE model, except the NER
# conversations (UniversalNER style, written by `ieforge distill build`), which are mixed in at the end.
#   relations: QA4RE questions (and the vanilla label question for 15%) over random option sets from
#              FewRel val_wiki (instances 100+ of each relation), WebNLG train and SciERC train (typed);
#   typing:    two-stage NER's multiple-choice typing questions (1-3 per text) from the NER training sets;
#   events:    CASIE detection and argument extraction (the 200 lowest-numbered articles left out);
#   tables:    on-demand table questions from WebNLG train.
# Zero-shot test sets (CrossNER, MIT, SemEval, CoNLL04, Few-NERD), RAMS and CaRB dev/test and every test
# split are refused by the builder itself.
# Usage (from the repository root): bash benchmarks/ie_model_corpus.sh OUT.jsonl [NER.jsonl ...]
#   with NER conversation files, OUT.jsonl is the mix of all of them (the multi-task part: OUT.tasks.jsonl).
set -euo pipefail
D=${D:-../shared/data}
OUT=${1:?usage: bash benchmarks/ie_model_corpus.sh OUT.jsonl [NER.jsonl ...]}
shift
TASKS=$OUT
[ $# -gt 0 ] && TASKS=${OUT%.jsonl}.tasks.jsonl

ieforge corpus build --out "$TASKS" --seed 0 \
  --data conll2003="$D/conll2003/train.txt" \
  --data wnut17="$D/wnut17/wnut17train.conll" \
  --data ncbi_disease="$D/ncbi_disease/train.tsv" \
  --data bc5cdr="$D/bc5cdr/train.tsv" \
  --data scierc="$D/scierc/train.json" \
  --data fewrel="$D/fewrel/val_wiki.json" \
  --data webnlg="$D/webnlg/train_triples.json" \
  --data casie="$D/casie/annotation" \
  --family-limit ner=0 --family-limit re=8000 --family-limit typing=4000 \
  --family-limit ed=-1 --family-limit eae=5000 --family-limit table=3000

if [ $# -gt 0 ]; then
  ieforge corpus mix "$TASKS" "$@" --out "$OUT" --seed 0
fi

# Shared by the training benchmark scripts (sourced after D and RUN are set): the step timer and the
# training sets whose text and labels they use. SemEval and the CrossNER domains are never among them, so
# both stay zero-shot tests.

timed() {  # timed NAME COMMAND...: run, and append the wall time to $RUN/times.tsv
  local name=$1 t0
  shift
  t0=$(date +%s)
  "$@"
  printf '%s\t%s\n' "$name" $(($(date +%s) - t0)) >>"$RUN/times.tsv"
}

TRAIN_SETS=(
  --data conll2003="$D/conll2003/train.txt"
  --data wnut17="$D/wnut17/emerging.dev.conll"
  --data ncbi_disease="$D/ncbi_disease/train.tsv"
  --data bc5cdr="$D/bc5cdr/train.tsv"
  --data scierc="$D/scierc/train.json"
  --data fewrel="$D/fewrel/val_wiki.json"
  --data webnlg="$D/webnlg/train_triples.json"
  --data casie="$D/casie/annotation"
)

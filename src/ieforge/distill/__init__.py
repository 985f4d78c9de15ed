"""Targeted distillation for open-type NER (UniversalNER): a teacher annotates passages with entities of
any type, the annotations become UniversalNER conversations, and a small student is fine-tuned on them
with ``ieforge train sft``.

- :mod:`ieforge.distill.passages`: unlabelled passages from the text of annotated datasets;
- :mod:`ieforge.distill.annotate`: the teacher (:class:`Teacher`, :func:`annotate_file`);
- :mod:`ieforge.distill.annotations`: annotation records, Pile-NER files, type normalization;
- :mod:`ieforge.distill.build`: the student's training conversations (:func:`build_examples`).
"""

from ieforge.distill.annotate import DEFAULT_TEACHER_PROMPT, Teacher, annotate_file
from ieforge.distill.annotations import (
    AnnotatedEntity,
    PassageAnnotation,
    normalize_type,
    read_annotations,
)
from ieforge.distill.build import DistillConfig, build_examples, distill_stats, merge_annotations
from ieforge.distill.passages import collect_passages

__all__ = [
    "DEFAULT_TEACHER_PROMPT",
    "AnnotatedEntity",
    "DistillConfig",
    "PassageAnnotation",
    "Teacher",
    "annotate_file",
    "build_examples",
    "collect_passages",
    "distill_stats",
    "merge_annotations",
    "normalize_type",
    "read_annotations",
]

"""Readers for benchmark file formats: NER into :class:`NERExample` (or :class:`UniNERExample` for the
UniversalNER question files), relation classification into :class:`REExample`."""

from ieforge.data.bio import read_bio
from ieforge.data.carb import read_carb
from ieforge.data.casie import casie_schema, read_casie
from ieforge.data.examples import (
    Argument,
    DocumentExample,
    EventExample,
    EventMention,
    OpenIEExample,
    OpenIEExtraction,
    RelationMention,
    Triple,
    TripleExample,
    relation_examples,
)
from ieforge.data.fewrel import read_fewrel
from ieforge.data.instructuie import NERExample, read_instructuie_ner
from ieforge.data.jsonl import read_ner_jsonl, read_re_jsonl
from ieforge.data.labels import DATASET_LABELS, dataset_labels
from ieforge.data.rams import plain_role, rams_roles, read_rams
from ieforge.data.scierc import read_scierc
from ieforge.data.semeval import REExample, parse_entity_markup, read_semeval
from ieforge.data.tacred import read_tacred
from ieforge.data.uniner import UniNERExample, read_uniner
from ieforge.data.webnlg import find_mention, read_webnlg

__all__ = [
    "DATASET_LABELS",
    "Argument",
    "DocumentExample",
    "EventExample",
    "EventMention",
    "NERExample",
    "OpenIEExample",
    "OpenIEExtraction",
    "REExample",
    "RelationMention",
    "Triple",
    "TripleExample",
    "UniNERExample",
    "casie_schema",
    "dataset_labels",
    "find_mention",
    "parse_entity_markup",
    "plain_role",
    "rams_roles",
    "read_bio",
    "read_carb",
    "read_casie",
    "read_fewrel",
    "read_instructuie_ner",
    "read_ner_jsonl",
    "read_rams",
    "read_re_jsonl",
    "read_scierc",
    "read_semeval",
    "read_tacred",
    "read_uniner",
    "read_webnlg",
    "relation_examples",
]

"""Relation schemas: the label set, one sentence template per label, and entity-type constraints.

A schema is data (YAML or JSON). The built-in ones live in ``schemas/relations/*.yaml``; a user schema is
any file with the same fields. Templates are sentences over two placeholders, ``{subj}`` and ``{obj}``,
e.g. ``{subj} was born in the city {obj}``; the ``none_label`` has one too (``{subj} has no known
relations to {obj}``), because QA4RE offers "no relation" as an option like any other.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from ieforge.errors import InputError
from ieforge.schemas._files import available, load_schema

PLACEHOLDERS = ("subj", "obj")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_FILL = re.compile(r"\{(subj|obj)\}")


class RelationSchema(BaseModel):
    """A closed set of relation labels between a subject (head) and an object (tail) entity."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: int
    source: str = ""
    """where the labels, templates and constraints come from (for citation)"""
    none_label: str
    """the label meaning "no relation" (``Other`` in SemEval, ``no_relation`` in TACRED)"""
    labels: list[str]
    """the positive labels, in a fixed order (the order options and label lists are shown in)"""
    templates: dict[str, list[str]]
    """label -> sentences over ``{subj}`` and ``{obj}``; the none label has one too"""
    descriptions: dict[str, str] = {}
    constraints: dict[str, list[str]] | None = None
    """``"SUBJ_TYPE:OBJ_TYPE"`` -> the positive labels possible for that pair of entity types"""
    option_order: Literal["schema", "constraint"] = "schema"
    """order of :meth:`allowed_labels` for typed pairs: the order of ``labels`` ("schema"), or the order
    in which the matching constraint lists them ("constraint", how QA4RE ordered its options)"""

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def all_labels(self) -> list[str]:
        """The positive labels followed by the none label."""
        return [*self.labels, self.none_label]

    @model_validator(mode="after")
    def _check(self) -> RelationSchema:
        problem = self._first_problem()
        if problem is not None:
            raise ValueError(problem)
        return self

    def _first_problem(self) -> str | None:
        if not self.name.strip():
            return "name: must not be empty"
        if not self.labels:
            return "labels: at least one positive label is needed"
        seen: set[str] = set()
        for i, label in enumerate(self.labels):
            if not label.strip():
                return f"labels.{i}: empty label"
            if label in seen:
                return f"labels.{i}: '{label}' is listed twice"
            seen.add(label)
        if not self.none_label.strip():
            return "none_label: must not be empty"
        if self.none_label in seen:
            return f"none_label: '{self.none_label}' must not also be among labels"
        known = {*seen, self.none_label}
        for label in self.all_labels:
            if not self.templates.get(label):
                return f"templates.{label}: missing (every label, the none label too, needs a template)"
        for label, templates in self.templates.items():
            if label not in known:
                return f"templates.{label}: not a label of this schema"
            for i, template in enumerate(templates):
                problem = _template_problem(template)
                if problem:
                    return f"templates.{label}.{i}: {problem}"
        for label in self.descriptions:
            if label not in known:
                return f"descriptions.{label}: not a label of this schema"
        if self.constraints is not None:
            for pair, allowed in self.constraints.items():
                sides = pair.split(":")
                if len(sides) != 2 or not all(s.strip() for s in sides):
                    return f"constraints.{pair}: key must look like 'SUBJ_TYPE:OBJ_TYPE'"
                if len(set(allowed)) != len(allowed):
                    return f"constraints.{pair}: a label is listed twice"
                for label in allowed:
                    if label == self.none_label:
                        return f"constraints.{pair}: the none label is always allowed, do not list it"
                    if label not in seen:
                        return f"constraints.{pair}: unknown label '{label}'"
        elif self.option_order == "constraint":
            return "option_order: 'constraint' needs constraints"
        return None

    def allowed_labels(self, subj_type: str | None, obj_type: str | None) -> list[str]:
        """The positive labels possible between entities of these types (the none label is never listed).

        All labels when the schema has no constraints or either type is unknown (None); an empty list when
        both types are given and the constraints have no entry for the pair. Order: see ``option_order``.
        """
        if self.constraints is None or subj_type is None or obj_type is None:
            return list(self.labels)
        allowed = self.constraints.get(f"{subj_type.strip()}:{obj_type.strip()}")
        if allowed is None:
            return []
        if self.option_order == "constraint":
            return list(allowed)
        wanted = set(allowed)
        return [label for label in self.labels if label in wanted]

    def verbalize(self, label: str, subj: str, obj: str, template_index: int = 0) -> str:
        """The template of ``label`` with the two entities filled in (their text is inserted verbatim)."""
        templates = self.templates.get(label)
        if templates is None:
            raise InputError(f"relation schema {self.id}: unknown label '{label}'")
        if not -len(templates) <= template_index < len(templates):
            raise InputError(
                f"relation schema {self.id}: label '{label}' has {len(templates)} template(s), "
                f"no template {template_index}"
            )
        values = {"subj": subj, "obj": obj}
        # One pass, so an entity whose text contains "{obj}" is not filled in a second time.
        return _FILL.sub(lambda m: values[m.group(1)], templates[template_index])


def _template_problem(template: str) -> str | None:
    names = _PLACEHOLDER.findall(template)
    for name in names:
        if name not in PLACEHOLDERS:
            return f"unknown placeholder '{{{name}}}' (only {{subj}} and {{obj}} are allowed)"
    for name in PLACEHOLDERS:
        if name not in names:
            return f"'{template}' has no {{{name}}}"
    if "{" in _PLACEHOLDER.sub("", template) or "}" in _PLACEHOLDER.sub("", template):
        return f"'{template}' has an unmatched brace"
    return None


def available_relation_schemas() -> list[str]:
    """Names of the relation schemas shipped with ieforge."""
    return available("relations")


def load_relation_schema(name_or_path: str | Path) -> RelationSchema:
    """A built-in schema by name (``semeval``, ``tacred``, ``tacrev``, ``retacred``) or a YAML/JSON file."""
    return load_schema(name_or_path, "relations", "relation", RelationSchema)

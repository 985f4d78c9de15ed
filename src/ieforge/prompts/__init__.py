"""Versioned prompt templates, stored as YAML data beside the parsers that read their answers.

A result records ``name@version`` of its prompt, so every number can be traced to the exact wording.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ValidationError, model_validator

from ieforge._validation import describe_validation_error
from ieforge.errors import InputError
from ieforge.models.base import Chat, Message
from ieforge.schemas.relations import RelationSchema
from ieforge.types import Mention

_SLOT = re.compile(r"\{([A-Za-z_]+)\}")


def _fill(template: str, values: dict[str, str]) -> str:
    """Replace ``{name}`` placeholders in one pass, so braces inside the inserted values stay verbatim."""
    return _SLOT.sub(lambda m: values.get(m.group(1), m.group(0)), template)


class Turn(BaseModel):
    role: str
    content: str


def _conversation(system: str, turns: Sequence[Turn], question: str, values: dict[str, str]) -> Chat:
    """The system message (when there is one), the turns, then the question as the last user message,
    their placeholders filled from ``values``."""
    msgs: list[Message] = []
    if system:
        msgs.append({"role": "system", "content": system})
    for t in turns:
        msgs.append({"role": t.role, "content": _fill(t.content, values)})
    msgs.append({"role": "user", "content": _fill(question, values)})
    return msgs


class Prompt(BaseModel):
    """What every versioned prompt file has: identity, its answer parser, how answers start and end."""

    name: str
    version: int
    task: str
    parser: str
    system: str = ""
    assistant_prefix: str = ""
    """text the answer is forced to start with"""
    stop: list[str] = []
    """strings that end an answer (kept in the answer text)"""

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}"


class NERPrompt(Prompt):
    """A conversation about a text that asks for its entities, by parser:

    - ``string_list``: one question per entity type (``{label}``), answered with a JSON list of strings;
      :meth:`chat` renders it. Placeholders are filled with :meth:`str.format`.
    - ``type_map``: one question for every requested type at once (``{labels}``, written as a JSON list
      of the type names in the order asked), answered with a JSON object ``{type: [strings]}`` whose keys
      are the asked types in that order (:func:`~ieforge.prompts.structured.parse_type_map`);
      :meth:`chat_all` renders the conversation and :meth:`answer_all` the answer a model is trained to
      give. Placeholders (``{text}``, ``{labels}``) are filled by name, so other braces (a JSON example)
      are kept as written.
    """

    parser: Literal["string_list", "type_map"]
    turns: list[Turn]
    question: str

    @model_validator(mode="after")
    def _check_placeholders(self) -> NERPrompt:
        if self.task != "ner":
            raise ValueError(f"task: a NER prompt has task 'ner', not '{self.task}'")
        if self.parser == "type_map":
            every = [("question", self.question)]
            every += [(f"turns.{i}", t.content) for i, t in enumerate(self.turns)]
            for field, text in every:
                unknown = set(_SLOT.findall(text)) - {"text", "labels"}
                if unknown:
                    raise ValueError(f"{field}: unknown placeholder {{{sorted(unknown)[0]}}}")
            if "{labels}" not in self.question:
                raise ValueError("question: a type_map prompt needs the placeholder {labels}")
        return self

    @property
    def asks_all(self) -> bool:
        """True when one question asks for every type (``type_map``), False for one question per type."""
        return self.parser == "type_map"

    def chat(self, text: str, label: str) -> Chat:
        """The conversation asking for ``label`` (a ``type_map`` prompt asks for that one type)."""
        if self.asks_all:
            return self.chat_all(text, [label])
        msgs: list[Message] = []
        if self.system:
            msgs.append({"role": "system", "content": self.system})
        for t in self.turns:
            msgs.append({"role": t.role, "content": t.content.format(text=text, label=label)})
        msgs.append({"role": "user", "content": self.question.format(text=text, label=label)})
        return msgs

    def _check_all(self, labels: Sequence[str]) -> None:
        if not self.asks_all:
            raise InputError(
                f"prompt {self.id} asks one question per type (parser {self.parser}), not all at once"
            )
        if not labels:
            raise InputError(f"prompt {self.id}: at least one entity type is required")

    def chat_all(self, text: str, labels: Sequence[str]) -> Chat:
        """The conversation of a ``type_map`` prompt asking for every type of ``labels`` in ``text`` (the
        types in the order given). Inference and training data both render it here."""
        self._check_all(labels)
        values = {"text": text, "labels": json.dumps(list(labels), ensure_ascii=False)}
        return _conversation(self.system, self.turns, self.question, values)

    def answer_all(self, labels: Sequence[str], by_type: Mapping[str, Sequence[str]]) -> str:
        """The answer text of a ``type_map`` prompt (its assistant prefix included): a one-line JSON object
        with every type of ``labels`` as a key in that order, valued by its distinct strings from
        ``by_type`` (``[]`` when it has none). A type of ``by_type`` with strings that is not asked is an
        :class:`InputError` (its strings would be lost from the gold)."""
        self._check_all(labels)
        missing = [t for t, strings in by_type.items() if strings and t not in labels]
        if missing:
            raise InputError(f"prompt {self.id}: the answer has strings of type '{missing[0]}', not asked")
        answer = {label: list(dict.fromkeys(by_type.get(label, ()))) for label in labels}
        text = json.dumps(answer, ensure_ascii=False)
        if not text.startswith(self.assistant_prefix):
            raise InputError(f"prompt {self.id}: the answer must start with {self.assistant_prefix!r}")
        return text


def available_prompts(task: str) -> list[str]:
    folder = resources.files("ieforge.prompts").joinpath(task)
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


PromptT = TypeVar("PromptT", bound=Prompt)


def _load_prompt(task: str, kind: str, name: str, model: type[PromptT]) -> PromptT:
    """A packaged prompt of ``task`` by name, or a YAML file path; bad files get one line naming them."""
    if Path(name).is_file():
        source, raw = name, Path(name).read_text(encoding="utf-8")
    else:
        path = resources.files("ieforge.prompts").joinpath(task).joinpath(f"{name}.yaml")
        if not path.is_file():
            raise InputError(
                f"unknown {kind} prompt '{name}' (available: {', '.join(available_prompts(task))})"
            )
        source, raw = f"{task}/{name}.yaml", path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise InputError(f"{source}: {where}not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{source}: invalid prompt file: expected a mapping of fields")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{source}: invalid prompt file: {describe_validation_error(exc)}") from None


@lru_cache(maxsize=64)
def load_ner_prompt(name: str) -> NERPrompt:
    """Load a packaged NER prompt by name (``uniner``, ``uniner-json``) or from a YAML file path."""
    return _load_prompt("ner", "NER", name, NERPrompt)


# ---------------------------------------------------------------------------------------------------------
# Relation classification: QA4RE (multiple choice over relation templates) and the vanilla label question.

# placeholders each kind of RE prompt may use in its template (and must use, for the required ones)
_RE_TEMPLATE_SLOTS = {
    "option_letter": ({"sentence", "subj", "obj", "options"}, {"sentence", "options"}),
    "label": ({"sentence", "subj", "obj", "labels"}, {"sentence", "labels"}),
    "yes_no": ({"sentence", "subj", "obj", "statement"}, {"sentence", "statement"}),
}
_RE_CHOICE_SLOTS = {
    "option_letter": ({"letter", "text", "label"}, {"letter"}),
    "label": ({"label"}, {"label"}),
    "yes_no": (set(), set()),
}


class REPrompt(Prompt):
    """A question about the relation between a head and a tail entity in one sentence.

    ``parser`` says how the answer is read and how the choices are shown: ``option_letter`` (QA4RE:
    lettered options, one per relation template, in ``{options}``), ``label`` (the vanilla question:
    the label names, in ``{labels}``) or ``yes_no`` (one question per option sentence, in
    ``{statement}``, answered yes or no).
    """

    parser: Literal["option_letter", "label", "yes_no"]
    template: str
    """the user message; placeholders {sentence}, {subj}, {obj} and {options} or {labels}"""
    entity_format: str = "{entity}"
    """how the two entity mentions are written, in the sentence and wherever they are named"""
    choice_format: str = ""
    """one line of the choices block: "{letter}. {text}" (options) or "- {label}" (labels)"""

    @model_validator(mode="after")
    def _check_placeholders(self) -> REPrompt:
        if self.task != "re":
            raise ValueError(f"task: a relation prompt has task 're', not '{self.task}'")
        for field, text, (allowed, required) in (
            ("template", self.template, _RE_TEMPLATE_SLOTS[self.parser]),
            ("choice_format", self.choice_format, _RE_CHOICE_SLOTS[self.parser]),
            ("entity_format", self.entity_format, ({"entity"}, {"entity"})),
        ):
            used = set(_SLOT.findall(text))
            if used - allowed:
                raise ValueError(f"{field}: unknown placeholder {{{sorted(used - allowed)[0]}}}")
            if required - used:
                raise ValueError(f"{field}: needs the placeholder {{{sorted(required - used)[0]}}}")
        return self

    def entity(self, text: str) -> str:
        return self.entity_format.replace("{entity}", text)

    def chat(self, text: str, solved: Sequence[tuple[str, str]] = ()) -> Chat:
        """The conversation for one rendered question (see :func:`build_re_question`), after ``solved``
        (question, answer) pairs given as earlier user/assistant turns."""
        msgs: list[Message] = []
        if self.system:
            msgs.append({"role": "system", "content": self.system})
        for question, answer in solved:
            msgs.append({"role": "user", "content": question})
            msgs.append({"role": "assistant", "content": answer})
        msgs.append({"role": "user", "content": text})
        return msgs


class REQuestion(BaseModel):
    """One rendered relation question and how to map its answer back to a label."""

    prompt: str
    """name@version of the prompt"""
    text: str
    """the user message"""
    options: list[tuple[str, str]]
    """(answer, label) in the order shown: the option letter for QA4RE, the label itself for vanilla"""
    choices: list[str] = []
    """what each option says, aligned with ``options``: its sentence (QA4RE) or label (vanilla)"""
    statements: list[str] = []
    """yes/no prompts: one user message per option, asking whether its sentence holds (``text`` is the
    first of them)"""

    @property
    def answers(self) -> list[str]:
        return [answer for answer, _ in self.options]

    def label_of(self, answer: str | None) -> str | None:
        for key, label in self.options:
            if key == answer:
                return label
        return None


@lru_cache(maxsize=64)
def load_re_prompt(name: str) -> REPrompt:
    """Load a packaged relation prompt by name (``qa4re``, ``vanilla``) or from a YAML file path."""
    return _load_prompt("re", "relation", name, REPrompt)


def option_letters(n: int) -> list[str]:
    """``n`` option letters: A..Z, then AA, AB, .., AZ, BA, .. (spreadsheet column names)."""
    out: list[str] = []
    for i in range(max(0, n)):
        name = ""
        i += 1
        while i:
            i, rem = divmod(i - 1, 26)
            name = chr(ord("A") + rem) + name
        out.append(name)
    return out


def _candidate_labels(
    schema: RelationSchema, subj_type: str | None, obj_type: str | None, rotation: int = 0
) -> list[str]:
    """The labels allowed for the types, moved ``rotation`` places to the left, then the none label."""
    allowed = schema.allowed_labels(subj_type, obj_type)
    if allowed:
        k = rotation % len(allowed)
        allowed = allowed[k:] + allowed[:k]
    return [*allowed, schema.none_label]


def qa4re_options(
    schema: RelationSchema,
    subj: str,
    obj: str,
    subj_type: str | None = None,
    obj_type: str | None = None,
    *,
    choice_format: str = "{letter}. {text}",
) -> tuple[str, list[tuple[str, str]]]:
    """The QA4RE options block and its (letter, label) pairs.

    The labels allowed for the entity types come first (in the schema's option order), each with one
    option per template, and the none label's option last. ``subj``/``obj`` are inserted as given.
    """
    return _render_options(_option_sentences(schema, subj, obj, subj_type, obj_type), choice_format)


def _option_sentences(
    schema: RelationSchema,
    subj: str,
    obj: str,
    subj_type: str | None,
    obj_type: str | None,
    rotation: int = 0,
) -> list[tuple[str, str]]:
    """(label, option sentence) for every template of every candidate label, the none label last."""
    return [
        (label, schema.verbalize(label, subj, obj, k))
        for label in _candidate_labels(schema, subj_type, obj_type, rotation)
        for k in range(len(schema.templates[label]))
    ]


def _render_options(
    sentences: list[tuple[str, str]], choice_format: str
) -> tuple[str, list[tuple[str, str]]]:
    pairs: list[tuple[str, str]] = []
    lines: list[str] = []
    for letter, (label, text) in zip(option_letters(len(sentences)), sentences):
        pairs.append((letter, label))
        lines.append(_fill(choice_format, {"letter": letter, "text": text, "label": label}))
    return "\n".join(lines), pairs


def label_choices(
    schema: RelationSchema,
    subj_type: str | None = None,
    obj_type: str | None = None,
    *,
    choice_format: str = "- {label}",
    rotation: int = 0,
) -> tuple[str, list[tuple[str, str]]]:
    """The vanilla prompt's label list (allowed labels, then the none label) and its (label, label) pairs."""
    labels = _candidate_labels(schema, subj_type, obj_type, rotation)
    block = "\n".join(_fill(choice_format, {"label": label}) for label in labels)
    return block, [(label, label) for label in labels]


def mark_entities(text: str, head: Mention, tail: Mention, entity_format: str = "{entity}") -> str:
    """``text`` with both mentions written through ``entity_format`` (e.g. ``[{entity}]``) in place."""
    _check_mention(text, head, "head")
    _check_mention(text, tail, "tail")
    before, _, after = entity_format.partition("{entity}")
    if not before and not after:
        return text
    # (offset, closing tags first, then longer spans open first / shorter spans close first, marker)
    inserts: list[tuple[int, int, int, str]] = []
    for span in (head, tail):
        inserts.append((span.start, 1, -(span.end - span.start), before))
        inserts.append((span.end, 0, span.end - span.start, after))
    inserts.sort(key=lambda t: (t[0], t[1], t[2]))
    pieces: list[str] = []
    last = 0
    for pos, _kind, _size, marker in inserts:
        pieces.append(text[last:pos])
        pieces.append(marker)
        last = pos
    pieces.append(text[last:])
    return "".join(pieces)


def _check_mention(text: str, span: Mention, role: str) -> None:
    if not (0 <= span.start <= span.end <= len(text)) or text[span.start : span.end] != span.text:
        raise InputError(
            f"{role} entity {span.text!r} is not at {span.start}:{span.end} of the sentence "
            f"(found {text[span.start : span.end]!r})"
        )


def build_re_question(
    prompt: REPrompt,
    schema: RelationSchema,
    text: str,
    head: Mention,
    tail: Mention,
    head_type: str | None = None,
    tail_type: str | None = None,
    *,
    rotation: int = 0,
) -> REQuestion:
    """Render ``prompt`` for the relation between ``head`` (subject) and ``tail`` (object) in ``text``.

    ``rotation`` moves the relation options that many places to the left (the none option stays last):
    the same question with the options in another order, for permutation averaging."""
    return _render_re_question(
        prompt,
        schema,
        mark_entities(text, head, tail, prompt.entity_format),
        head.text,
        tail.text,
        head_type,
        tail_type,
        rotation,
    )


def content_free_question(
    prompt: REPrompt,
    schema: RelationSchema,
    head_type: str | None = None,
    tail_type: str | None = None,
    *,
    filler: str = "N/A",
    rotation: int = 0,
) -> REQuestion:
    """The question with the sentence and both entities replaced by ``filler``: what a model answers
    about no content at all (its prior over the choices, used to calibrate the answers)."""
    return _render_re_question(prompt, schema, filler, filler, filler, head_type, tail_type, rotation)


def _render_re_question(
    prompt: REPrompt,
    schema: RelationSchema,
    sentence: str,
    head: str,
    tail: str,
    head_type: str | None,
    tail_type: str | None,
    rotation: int = 0,
) -> REQuestion:
    subj, obj = prompt.entity(head), prompt.entity(tail)
    values = {"sentence": sentence, "subj": subj, "obj": obj}
    if prompt.parser == "yes_no":
        sentences = _option_sentences(schema, subj, obj, head_type, tail_type, rotation)
        options = [(letter, label) for letter, (label, _) in zip(option_letters(len(sentences)), sentences)]
        choices = [text for _, text in sentences]
        statements = [_fill(prompt.template, {**values, "statement": text}) for text in choices]
        return REQuestion(
            prompt=prompt.id, text=statements[0], options=options, choices=choices, statements=statements
        )
    if prompt.parser == "option_letter":
        sentences = _option_sentences(schema, subj, obj, head_type, tail_type, rotation)
        values["options"], options = _render_options(sentences, prompt.choice_format)
        choices = [text for _, text in sentences]
    else:
        values["labels"], options = label_choices(
            schema, head_type, tail_type, choice_format=prompt.choice_format, rotation=rotation
        )
        choices = [label for label, _ in options]
    return REQuestion(prompt=prompt.id, text=_fill(prompt.template, values), options=options, choices=choices)


# ---------------------------------------------------------------------------------------------------------
# Events, open IE and on-demand tables: conversations with named placeholders.

# (task, parser) -> (placeholders allowed in the turns and question, placeholders the question needs)
_CHAT_SLOTS: dict[tuple[str, str], tuple[set[str], set[str]]] = {
    ("events", "string_list"): ({"text", "event"}, {"event"}),
    ("events", "tuple_list"): ({"text", "types"}, {"types"}),
    ("events", "role_map"): ({"text", "event", "trigger", "sentence", "roles"}, {"trigger", "roles"}),
    ("openie", "tuple_list"): ({"text"}, set()),
    ("annotate", "tuple_list"): ({"text"}, set()),
    ("table", "rows"): ({"text", "instruction", "headers"}, {"instruction", "headers"}),
    # two-stage NER: propose candidate spans, then decide each one's type by scoring
    ("typing", "string_list"): ({"text"}, set()),
    ("typing", "option_letter"): ({"text", "span", "options"}, {"span", "options"}),
    ("typing", "yes_no"): ({"text", "span", "type"}, {"span", "type"}),
    ("typing", "cloze"): ({"text", "span"}, set()),  # the span is in the question or the statements
}


class ChatPrompt(Prompt):
    """A conversation about a text whose turns and question hold named placeholders (``{text}``,
    ``{event}`` ...). Which placeholders a prompt may use depends on its task and parser:

    - events / string_list: one question per event type, ``{event}`` (name and description), answered
      with the trigger strings;
    - events / tuple_list: one question for all types, ``{types}`` (a list), answered with
      ``[trigger, type]`` pairs;
    - events / role_map: one question per event, ``{event}``, ``{trigger}``, ``{sentence}`` (the
      trigger's sentence), ``{roles}`` (a list), answered with a role -> strings object;
    - openie / tuple_list: answered with ``[subject, relation, object, ...]`` lists;
    - annotate / tuple_list: a teacher's open-type NER answer, ``[entity, type]`` pairs;
    - table / rows: ``{instruction}`` and ``{headers}``, answered with rows;
    - typing: the two-stage NER prompts (:class:`TypingPrompt`).

    The text goes wherever ``{text}`` is (normally an early user turn)."""

    turns: list[Turn] = []
    question: str

    @model_validator(mode="after")
    def _check_placeholders(self) -> ChatPrompt:
        key = (self.task, self.parser)
        if key not in _CHAT_SLOTS:
            known = ", ".join(f"{t}/{p}" for t, p in _CHAT_SLOTS)
            raise ValueError(f"parser: no '{self.parser}' prompts for task '{self.task}' (known: {known})")
        allowed, required = _CHAT_SLOTS[key]
        every = [("question", self.question)] + [(f"turns.{i}", t.content) for i, t in enumerate(self.turns)]
        for field, text in every:
            unknown = set(_SLOT.findall(text)) - allowed
            if unknown:
                raise ValueError(f"{field}: unknown placeholder {{{sorted(unknown)[0]}}}")
        missing = required - set(_SLOT.findall(self.question))
        if missing:
            raise ValueError(f"question: needs the placeholder {{{sorted(missing)[0]}}}")
        if not any("{text}" in text for _, text in every):
            raise ValueError("a turn or the question must hold the placeholder {text}")
        return self

    def chat(self, **values: str) -> Chat:
        return _conversation(self.system, self.turns, self.question, values)


@lru_cache(maxsize=64)
def load_chat_prompt(task: str, name: str) -> ChatPrompt:
    """Load a packaged prompt of ``task`` (``events``, ``openie``, ``table``, ``annotate``) by name, or a
    YAML file."""
    prompt = _load_prompt(task, task, name, ChatPrompt)
    if prompt.task != task:
        raise InputError(f"prompt '{name}' is for task '{prompt.task}', not '{task}'")
    return prompt


class TypingPrompt(ChatPrompt):
    """A prompt of two-stage NER (:mod:`ieforge.tasks.entity_typing`), by parser:

    - ``string_list``: stage 1, one question listing every entity of a text (``{text}``);
    - ``option_letter``: which of the lettered types (``{options}``, the none option last) ``{span}`` is,
      read from the next-token probabilities of the letters;
    - ``yes_no``: whether ``{span}`` is a ``{type}``, read as P(yes);
    - ``cloze``: the probability of ``statement`` (``{span}``, ``{type}``, ``{article}``) as the answer,
      for every type and for ``none_statement``.
    """

    choice_format: str = "{letter}. {text}"
    none_option: str = "none of these"
    statement: str = ""
    none_statement: str = ""

    @model_validator(mode="after")
    def _check_statements(self) -> TypingPrompt:
        if self.parser != "cloze":
            return self
        if not self.statement or not self.none_statement:
            raise ValueError("a cloze prompt needs 'statement' and 'none_statement'")
        for field, text in (("statement", self.statement), ("none_statement", self.none_statement)):
            unknown = set(_SLOT.findall(text)) - {"span", "type", "article"}
            if unknown:
                raise ValueError(f"{field}: unknown placeholder {{{sorted(unknown)[0]}}}")
        if "{type}" not in self.statement:
            raise ValueError("statement: needs the placeholder {type}")
        if "{span}" not in self.question and "{span}" not in self.statement:
            raise ValueError("the question or the statement must hold the placeholder {span}")
        return self

    def fill(self, template: str, **values: str) -> str:
        return _fill(template, values)

    def choices(self, names: Sequence[str]) -> tuple[str, list[str]]:
        """The lettered options block for these type names with the none option last, and its letters
        (used by the typing task and by the training data that teaches it)."""
        names = [*names, self.none_option]
        letters = option_letters(len(names))
        block = "\n".join(
            self.fill(self.choice_format, letter=letter, text=name) for letter, name in zip(letters, names)
        )
        return block, letters


@lru_cache(maxsize=64)
def load_typing_prompt(name: str) -> TypingPrompt:
    """Load a packaged two-stage NER prompt (``propose-all``, ``typing-mc``, ``typing-verify``,
    ``typing-cloze``) by name, or a YAML file."""
    prompt = _load_prompt("typing", "typing", name, TypingPrompt)
    if prompt.task != "typing":
        raise InputError(f"prompt '{name}' is for task '{prompt.task}', not 'typing'")
    return prompt

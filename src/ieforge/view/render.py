"""Render result records (the JSONL lines the task commands write) as HTML.

One renderer serves both the static file (``ieforge view``) and the service page (``ieforge serve``): the
page sends each answer to ``POST /page/render``, which returns :func:`render_fragment`'s HTML, the same
markup :func:`render_html` puts in the file. Both pages load the same CSS and the same script
(``templates/view.css``, ``templates/view.js``), inlined, so nothing is fetched from elsewhere.

Every annotation placed in the text becomes a ``<mark class="hl KIND">`` carrying ``data-kind``,
``data-label``, ``data-start``, ``data-end`` (Python str offsets) and ``data-score``; KIND is ``ent``
(entity), ``trg`` (event trigger), ``arg`` (relation or event argument) or ``part`` (a grounded open IE
part or table cell). Nested annotations become nested marks, outermost first; one that crosses another's
boundary is cut into fragments (``data-part="1/2"`` ...), so no annotation is lost. The first mark of each
distinct range gets the id ``doc-N-span-S-E`` that the relation, event, triple and table links point to.
Spans that do not fit the text (offsets out of range, or a ``text`` that differs from the slice) are
listed in a note under the document instead.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from ieforge.errors import IEForgeError, InputError
from ieforge.runs.jsonl import iter_objects

DEFAULT_LIMIT = 1000
"""Documents a file shows by default; the rest are counted and named in a note."""

MAX_NOTES = 20
"""Unplaced spans listed per document (the rest are counted)."""

Record = dict[str, Any]

# Nesting order for annotations with the same range: entity outermost, then trigger, argument, part.
_RANK = {"ent": 0, "trg": 1, "arg": 2, "part": 3}
_PARTS = ("subject", "relation", "object")
# Well separated hues for the first labels; later labels step round the colour wheel by the golden angle.
_HUES = (210, 28, 130, 280, 350, 175, 48, 310, 95, 10, 240, 190)


# ----- reading -------------------------------------------------------------------------------------------


def read_results(path: str | Path) -> Iterator[Record]:
    """The records of a JSONL results file, one per non-blank line, read lazily.

    A missing file fails at once; a line that is not a JSON object raises :class:`InputError` naming
    ``file:line`` when the reader gets to it.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    return (obj for _, obj in iter_objects(path))


# ----- what the templates see ----------------------------------------------------------------------------


@dataclass
class _Ann:
    """One annotation to highlight: a range of the text and what it is."""

    start: int
    end: int
    kind: str
    label: str
    score: float | None
    hue: int | None
    seq: int
    titles: list[str] = field(default_factory=list)


@dataclass
class _Mark:
    """A highlight element: an annotation, or a fragment of one, and what it contains."""

    ann: _Ann
    start: int
    end: int
    children: list[_Mark | str] = field(default_factory=list)
    part: str = ""
    id: str = ""

    @property
    def kind(self) -> str:
        return self.ann.kind

    @property
    def label(self) -> str:
        return self.ann.label

    @property
    def hue(self) -> int | None:
        return self.ann.hue

    @property
    def score(self) -> str:
        return "" if self.ann.score is None else str(round(self.ann.score, 4))

    @property
    def title(self) -> str:
        return "\n".join(self.ann.titles)

    @property
    def last(self) -> bool:
        """The mark that shows the label badge: the annotation's only or last fragment."""
        if not self.part:
            return True
        i, n = self.part.split("/")
        return i == n


@dataclass
class _Link:
    """A piece of text pointing at its place in the document (``href`` empty when not placed)."""

    text: str
    href: str = ""

    @property
    def target(self) -> str:
        return self.href.lstrip("#")


@dataclass
class _RelationRow:
    head: _Link
    label: str
    tail: _Link
    score: str
    head_type: str
    tail_type: str
    answered: bool


@dataclass
class _ArgumentRow:
    role: str
    link: _Link
    score: str


@dataclass
class _EventRow:
    type: str
    hue: int
    trigger: _Link
    score: str
    arguments: list[_ArgumentRow]

    @property
    def refs(self) -> str:
        return " ".join(x for x in [self.trigger.target, *(a.link.target for a in self.arguments)] if x)


@dataclass
class _TripleRow:
    subject: _Link
    relation: _Link
    object: _Link
    extra: list[_Link]
    score: str

    @property
    def refs(self) -> str:
        parts: list[_Link] = [self.subject, self.relation, self.object, *self.extra]
        return " ".join(p.target for p in parts if p.target)


@dataclass
class _TableView:
    headers: list[str]
    rows: list[list[_Link | None]]
    scores: list[str]
    instruction: str

    @property
    def scored(self) -> bool:
        return any(self.scores)


@dataclass
class _EntityRow:
    link: _Link
    label: str
    hue: int
    start: Any
    end: Any
    score: str


@dataclass
class _DocView:
    index: int
    anchor: str
    rec_id: str
    text: list[_Mark | str] | None
    error: str
    meta: list[str]
    entities: list[_EntityRow]
    relations: list[_RelationRow]
    events: list[_EventRow]
    triples: list[_TripleRow]
    table: _TableView | None
    notes: list[str]


@dataclass
class _Palette:
    """A colour (hue) per label, in order of first appearance, and how often each label occurs."""

    hues: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def hue(self, label: str) -> int:
        if label not in self.hues:
            i = len(self.hues)
            self.hues[label] = _HUES[i] if i < len(_HUES) else round(i * 137.508) % 360
        self.counts[label] = self.counts.get(label, 0) + 1
        return self.hues[label]

    def legend(self) -> list[tuple[str, int, int]]:
        return [(label, hue, self.counts[label]) for label, hue in self.hues.items()]


# ----- building one document -----------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _fmt(value: Any) -> str:
    x = _number(value)
    return "" if x is None else f"{x:.2f}"


def _offset(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _string(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _text_of(span: Any) -> str:
    return _string(span.get("text")) if isinstance(span, dict) else ""


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def _fits(text: str, span: Any) -> bool:
    if not isinstance(span, dict):
        return False
    start, end = _offset(span.get("start")), _offset(span.get("end"))
    if start is None or end is None or not 0 <= start < end <= len(text):
        return False
    return "text" not in span or text[start:end] == span["text"]


class _DocBuilder:
    """Collects one record's annotations and the rows of its lists, then segments the text."""

    def __init__(self, index: int, rec: Record, palette: _Palette) -> None:
        self.index = index
        self.rec = rec
        self.palette = palette
        self.anns: dict[tuple[int, int, str, str], _Ann] = {}
        self.unplaced: list[str] = []
        self.skipped = 0
        text = rec.get("text")
        self.text: str | None = text if isinstance(text, str) else None

    def anchor(self, start: int, end: int) -> str:
        return f"doc-{self.index}-span-{start}-{end}"

    def place(
        self, span: Any, kind: str, label: str, title: str, score: float | None = None, hue: int | None = None
    ) -> _Link:
        """Add a span as an annotation; its link (no target when the span has no place in the text)."""
        if not isinstance(span, dict):
            self.skipped += 1
            return _Link("")
        shown = _string(span.get("text"))
        start, end = span.get("start"), span.get("end")
        if start is None and end is None and kind == "part":
            return _Link(shown)  # an open IE part or table cell the model wrote itself: not in the text
        if self.text is None or not _fits(self.text, span):
            self.unplaced.append(f"{shown!r} [{_string(start)}:{_string(end)}] {label}")
            return _Link(shown)
        assert isinstance(start, int) and isinstance(end, int)
        key = (start, end, kind, label)
        ann = self.anns.get(key)
        if ann is None:
            ann = self.anns[key] = _Ann(start, end, kind, label, score, hue, len(self.anns))
        elif score is not None and (ann.score is None or score > ann.score):
            ann.score = score
        if title not in ann.titles:
            ann.titles.append(title)
        return _Link(self.text[start:end], "#" + self.anchor(start, end))

    def build(self) -> _DocView:
        rec = self.rec
        relations = self._relations()
        entities = self._entities()
        events = self._events()
        triples = self._triples()
        table = self._table()
        notes = []
        if self.unplaced:
            shown = "; ".join(self.unplaced[:MAX_NOTES])
            more = f" and {len(self.unplaced) - MAX_NOTES} more" if len(self.unplaced) > MAX_NOTES else ""
            n = len(self.unplaced)
            what = "span" if n == 1 else "spans"
            notes.append(f"{n} {what} could not be placed in the text: {shown}{more}")
        if self.skipped:
            notes.append(f"{self.skipped} malformed item{'' if self.skipped == 1 else 's'} skipped")
        if self.text is None and "text" in rec:
            notes.append("the record's 'text' is not a string")
        error = rec.get("error")
        return _DocView(
            index=self.index,
            anchor=f"doc-{self.index}",
            rec_id=_string(rec.get("id")),
            text=None if self.text is None else _segment(self.text, list(self.anns.values()), self.anchor),
            error="" if error is None or error is False else _string(error),
            meta=self._meta(),
            entities=entities,
            relations=relations,
            events=events,
            triples=triples,
            table=table,
            notes=notes,
        )

    def _relations(self) -> list[_RelationRow]:
        rels = self.rec.get("relations")
        items = _dicts(rels) if isinstance(rels, list) else _dicts([self.rec.get("relation")])
        if self.text is not None and "<e1>" in self.text and items:
            self._strip_markup(items)
        rows = []
        for rel in items:
            label = _string(rel.get("label"))
            score = _number(rel.get("score"))
            head_text, tail_text = _text_of(rel.get("head")), _text_of(rel.get("tail"))
            p = "" if score is None else f" ({score:.2f})"
            head = self.place(rel.get("head"), "arg", "head", f"head of {label}{p} → {tail_text}")
            tail = self.place(rel.get("tail"), "arg", "tail", f"tail of {label}{p} ← {head_text}")
            rows.append(
                _RelationRow(
                    head=head,
                    label=label,
                    tail=tail,
                    score=_fmt(score),
                    head_type=_string(rel.get("head_type")),
                    tail_type=_string(rel.get("tail_type")),
                    answered=rel.get("answered") is not False,
                )
            )
        return rows

    def _strip_markup(self, rels: list[dict[str, Any]]) -> None:
        """Relation records read with ``<e1>``/``<e2>`` markup: the offsets index the text without it."""
        assert self.text is not None
        mentions = [rel.get(k) for rel in rels for k in ("head", "tail")]
        if all(_fits(self.text, m) for m in mentions):
            return
        from ieforge.data.semeval import parse_entity_markup

        try:
            plain = parse_entity_markup(self.text)[0]
        except IEForgeError:
            return
        if all(_fits(plain, m) for m in mentions):
            self.text = plain

    def _entities(self) -> list[_EntityRow]:
        rows = []
        for ent in _dicts(self.rec.get("entities")):
            label = _string(ent.get("label"))
            score = _number(ent.get("score"))
            hue = self.palette.hue(label)
            title = label if score is None else f"{label} · {score:.2f}"
            link = self.place(ent, "ent", label, title, score, hue)
            rows.append(_EntityRow(link, label, hue, ent.get("start"), ent.get("end"), _fmt(score)))
        if isinstance(self.rec.get("entities"), list):
            self.skipped += len(self.rec["entities"]) - len(rows)
        return rows

    def _events(self) -> list[_EventRow]:
        rows = []
        for ev in _dicts(self.rec.get("events")):
            etype = _string(ev.get("type"))
            score = _number(ev.get("score"))
            hue = self.palette.hue(etype)
            title = f"{etype} (trigger)" + ("" if score is None else f" · {score:.2f}")
            trigger = self.place(ev.get("trigger"), "trg", etype, title, score, hue)
            args = []
            for arg in _dicts(ev.get("arguments")):
                role = _string(arg.get("role"))
                a_score = _number(arg.get("score"))
                p = "" if a_score is None else f" · {a_score:.2f}"
                link = self.place(arg, "arg", role, f"{role} of {etype} '{trigger.text}'{p}", a_score)
                args.append(_ArgumentRow(role, link, _fmt(a_score)))
            rows.append(_EventRow(etype, hue, trigger, _fmt(score), args))
        return rows

    def _triples(self) -> list[_TripleRow]:
        rows = []
        for n, t in enumerate(_dicts(self.rec.get("triples")), 1):
            subject, relation, obj = (self.place(t.get(k), "part", k, f"triple {n}: {k}") for k in _PARTS)
            extra = [self.place(p, "part", "argument", f"triple {n}: more") for p in _dicts(t.get("extra"))]
            rows.append(_TripleRow(subject, relation, obj, extra, _fmt(t.get("score"))))
        return rows

    def _table(self) -> _TableView | None:
        table = self.rec.get("table")
        if not isinstance(table, dict) and isinstance(self.rec.get("headers"), list) and "rows" in self.rec:
            table = self.rec  # a TableResult itself (the service's answer) rather than a results line
        if not isinstance(table, dict):
            return None
        given = table.get("headers")
        headers = [_string(h) for h in given if h is not None] if isinstance(given, list) else []
        rows: list[list[_Link | None]] = []
        scores = []
        for r, row in enumerate(_dicts(table.get("rows")), 1):
            cells = row["cells"] if isinstance(row.get("cells"), dict) else {}
            line: list[_Link | None] = []
            for h in headers:
                cell = cells.get(h)
                line.append(None if cell is None else self.place(cell, "part", h, f"row {r}: {h}"))
            rows.append(line)
            scores.append(_fmt(row.get("score")))
        return _TableView(headers, rows, scores, _string(self.rec.get("instruction")))

    def _meta(self) -> list[str]:
        rec = self.rec
        meta = []
        labels = rec.get("labels")
        if isinstance(labels, list) and labels:
            meta.append("labels: " + ", ".join(_string(x) for x in labels))
        schema = rec.get("schema") or rec.get("schema_name")
        if schema:
            meta.append(f"schema: {_string(schema)}")
        for key in ("model", "prompt"):
            if rec.get(key):
                meta.append(f"{key}: {_string(rec[key])}")
        stats = rec.get("stats")
        if isinstance(stats, dict):
            names = {
                "answers": "answers",
                "strings": "strings",
                "unparsed": "unreadable",
                "ungrounded": "not in text",
                "unknown": "unknown",
                "rejected": "rejected",
            }
            shown = [f"{stats[k]} {name}" for k, name in names.items() if stats.get(k)]
            if shown:
                meta.append(", ".join(shown))
        return meta


def _segment(text: str, anns: list[_Ann], anchor: Any) -> list[_Mark | str]:
    """The text as a tree of marks and plain pieces: nested annotations nest, crossing ones are cut.

    Annotations are taken by start, longest first; each goes inside the innermost open mark that
    contains it. One that runs past that mark's end is cut there, and the rest is queued as a fragment of
    its own, so every annotation covers exactly its characters, in one or more marks.
    """
    queue = [(a.start, -a.end, _RANK[a.kind], a.seq, a) for a in anns]
    heapq.heapify(queue)
    root: list[_Mark] = []
    stack: list[_Mark] = []
    pieces: dict[int, list[_Mark]] = {}
    while queue:
        start, neg_end, rank, seq, ann = heapq.heappop(queue)
        end = -neg_end
        while stack and stack[-1].end <= start:
            stack.pop()
        if stack and end > stack[-1].end:
            cut = stack[-1].end
            heapq.heappush(queue, (cut, neg_end, rank, seq, ann))
            end = cut
        mark = _Mark(ann, start, end)
        pieces.setdefault(seq, []).append(mark)
        if stack:
            stack[-1].children.append(mark)
        else:
            root.append(mark)
        stack.append(mark)
    for marks in pieces.values():
        if len(marks) > 1:
            for i, m in enumerate(marks, 1):
                m.part = f"{i}/{len(marks)}"
    seen: set[tuple[int, int]] = set()

    def fill(start: int, end: int, children: list[_Mark | str]) -> list[_Mark | str]:
        out: list[_Mark | str] = []
        pos = start
        for child in children:
            assert isinstance(child, _Mark)
            if child.start > pos:
                out.append(text[pos : child.start])
            key = (child.ann.start, child.ann.end)
            if key not in seen:
                seen.add(key)
                child.id = anchor(*key)
            child.children = fill(child.start, child.end, child.children)
            out.append(child)
            pos = child.end
        if pos < end:
            out.append(text[pos:end])
        return out

    return fill(0, len(text), list(root))


# ----- rendering -----------------------------------------------------------------------------------------


@cache
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("ieforge.view", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["css"] = _asset("view.css")
    env.globals["view_js"] = _asset("view.js")
    return env


def _asset(name: str) -> Markup:
    """A CSS or JS file inlined into a page (our own code: it must not close its element early)."""
    text = (resources.files("ieforge.view") / "templates" / name).read_text(encoding="utf-8")
    if "</" in text:
        raise AssertionError(f"{name} contains '</' and cannot be inlined")
    return Markup(text)


def _csp(*scripts: str, connect: bool = False) -> str:
    """A Content-Security-Policy allowing only our own inline scripts (by hash) and inline styles.

    Escaping keeps model output inert; the policy is a second line: an injected script would not run,
    and the page can load nothing from elsewhere.
    """
    digests = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode("utf-8")).digest()).decode("ascii") + "'"
        for s in scripts
    )
    policy = f"default-src 'none'; script-src {digests}; style-src 'unsafe-inline'; img-src data:"
    return policy + ("; connect-src 'self'; form-action 'self'" if connect else "; form-action 'none'")


@dataclass
class _Context:
    docs: list[_DocView]
    legend: list[tuple[str, int, int]]
    shown: int
    total: int
    limit: int
    counts: dict[tuple[str, str], int]


def _context(records: Iterable[Any], limit: int) -> _Context:
    if limit < 1:
        raise ValueError("limit must be at least 1")
    palette = _Palette()
    docs: list[_DocView] = []
    total = 0
    for rec in records:
        total += 1
        if len(docs) >= limit:
            continue
        if not isinstance(rec, dict):
            rec = {"error": f"not a JSON object: {_string(rec)[:200]}"}
        docs.append(_DocBuilder(len(docs), rec, palette).build())
    counts = {
        ("entity", "entities"): sum(len(d.entities) for d in docs),
        ("relation", "relations"): sum(len(d.relations) for d in docs),
        ("event", "events"): sum(len(d.events) for d in docs),
        ("triple", "triples"): sum(len(d.triples) for d in docs),
        ("table", "tables"): sum(d.table is not None for d in docs),
        ("error", "errors"): sum(bool(d.error) for d in docs),
    }
    return _Context(docs, palette.legend(), len(docs), total, limit, counts)


def render_html(records: Iterable[Any], *, title: str = "ieforge results", limit: int = DEFAULT_LIMIT) -> str:
    """One self-contained HTML file showing ``records`` (result lines); at most ``limit`` documents.

    The file needs nothing from the network: styles and script are inlined, and it reads well with the
    script off (links are plain anchors; the script adds label toggles and hover highlighting).
    """
    ctx = _context(records, limit)
    csp = _csp(_asset("view.js"))
    return _env().get_template("view.html.j2").render(title=title, ctx=ctx, summary=True, csp=csp)


def render_fragment(records: Iterable[Any], *, limit: int = DEFAULT_LIMIT) -> str:
    """The documents part of :func:`render_html` (legend and documents), for a page to insert."""
    ctx = _context(records, limit)
    return _env().get_template("fragment.html.j2").render(ctx=ctx, summary=False)


@cache
def render_page(title: str = "ieforge", *, needs_key: bool = False) -> str:
    """The service page: a form that runs a task endpoint and shows the answer with the view's renderer.
    ``needs_key``: the service has an API key; the form gets a field for it, sent with every request."""
    page_js = _asset("page.js")
    csp = _csp(_asset("view.js"), page_js, connect=True)
    return (
        _env().get_template("page.html.j2").render(title=title, page_js=page_js, csp=csp, needs_key=needs_key)
    )

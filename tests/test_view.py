"""The HTML view (``ieforge view``) and the service page: markup, escaping, and both pages in Chromium."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from conftest import serving
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ieforge.cli import app
from ieforge.errors import InputError
from ieforge.view import read_results, render_fragment, render_html, render_page

CHROMIUM = os.environ.get("IEFORGE_CHROMIUM", "/usr/bin/chromium")  # Debian's chromium package
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ----- a small DOM from the stdlib parser ------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The element's text content (all text inside it, markup removed)."""
        return "".join(self.parts)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.nodes: list[Node] = []
        self.stack: list[Node] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.nodes.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.nodes.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        for node in self.stack:
            node.parts.append(data)


def parse(html: str) -> list[Node]:
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector.nodes


def select(nodes: list[Node], tag: str | None = None, cls: str | None = None, **attrs: Any) -> list[Node]:
    """Nodes with this tag, class and attributes (``data_start=3`` matches ``data-start="3"``)."""
    want = {k.replace("_", "-"): str(v) for k, v in attrs.items()}
    return [
        n
        for n in nodes
        if (tag is None or n.tag == tag)
        and (cls is None or cls in n.classes)
        and all(n.attrs.get(k) == v for k, v in want.items())
    ]


def drawn(nodes: list[Node], kind: str, start: int, end: int, label: str) -> str:
    """The text of an annotation's marks, its fragments joined in document order."""
    marks = select(nodes, "mark", kind, data_start=start, data_end=end, data_label=label)
    assert marks, f"no {kind} mark for {label} [{start}:{end}]"
    return "".join(m.text for m in marks)


# ----- records like the task commands write ----------------------------------------------------------------

TEXT = (
    "Barack Obama was born in Honolulu, Hawaii. "
    '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
)
EVENT_TEXT = "Hackers breached Acme Corp in March."
TABLE_TEXT = "Acme sells the X1 phone for $300 and the Z2 tablet for $450."


def span(text: str, piece: str, **fields: Any) -> dict[str, Any]:
    start = text.index(piece)
    return {"start": start, "end": start + len(piece), "text": piece, **fields}


def sample_records() -> list[dict[str, Any]]:
    ner = {
        "id": "n1",
        "text": TEXT,
        "labels": ["person", "location"],
        "entities": [
            span(TEXT, "Barack Obama", label="person", score=0.91),
            {"start": 7, "end": 12, "text": "Obama", "label": "person", "score": 0.5},  # nested
            span(TEXT, "Honolulu, Hawaii", label="location", score=0.8),
            span(TEXT, "Hawaii. <script>", label="<b>odd</b>", score=0.1),  # crosses the location
            {"start": 500, "end": 507, "text": "Nowhere", "label": "location", "score": 0.2},  # off the text
        ],
        "relation": {
            "label": "born_in",
            "head": span(TEXT, "Barack Obama"),
            "tail": span(TEXT, "Honolulu"),
            "score": 0.77,
            "answered": True,
        },
        "stats": {"answers": 2, "strings": 5, "unparsed": 0, "ungrounded": 1},
        "model": "smollm2-135m",
        "prompt": "uniner-json@1",
    }
    events = {
        "id": "e1",
        "text": EVENT_TEXT,
        "events": [
            {
                "type": "Attack",
                "trigger": span(EVENT_TEXT, "breached"),
                "arguments": [
                    span(EVENT_TEXT, "Hackers", role="Attacker", score=0.6),
                    span(EVENT_TEXT, "Acme Corp", role="Victim", score=None),
                ],
                "score": 0.9,
            }
        ],
        "triples": [
            {
                "subject": span(EVENT_TEXT, "Hackers"),
                "relation": {"text": "breached", "start": 8, "end": 16},
                "object": span(EVENT_TEXT, "Acme Corp"),
                "extra": [span(EVENT_TEXT, "in March")],
                "score": 0.4,
            },
            {
                "subject": span(EVENT_TEXT, "Acme Corp"),
                "relation": {"text": "was breached by", "start": None, "end": None},
                "object": span(EVENT_TEXT, "Hackers"),
                "extra": [],
                "score": 0.3,
            },
        ],
    }
    table = {
        "id": "t1",
        "text": TABLE_TEXT,
        "instruction": "List the products and their prices.",
        "table": {
            "headers": ["product", "price"],
            "rows": [
                {"cells": {"product": span(TABLE_TEXT, "X1 phone"), "price": span(TABLE_TEXT, "$300")}},
                {"cells": {"product": span(TABLE_TEXT, "Z2 tablet"), "price": {"text": "450 USD"}}},
            ],
        },
    }
    failed = {"id": "x1", "text": "Something went wrong here.", "error": "model timed out <after 30 s>"}
    marked = {
        "id": "r1",
        "text": "The <e1>bottle</e1> was full of <e2>wine</e2>.",
        "relation": {
            "label": "Content-Container(e2,e1)",
            "head": {"start": 4, "end": 10, "text": "bottle"},
            "tail": {"start": 23, "end": 27, "text": "wine"},
            "score": 0.62,
            "answered": True,
        },
    }
    return [ner, events, table, failed, marked]


# ----- the markup ------------------------------------------------------------------------------------------


def test_marks_ids_and_links() -> None:
    records = sample_records()
    html = render_html(records, title="results <1>")
    nodes = parse(html)

    # every entity on the text is drawn whole, with its label and score; the crossing one in fragments
    ner = records[0]
    for ent in ner["entities"][:4]:
        assert drawn(nodes, "ent", ent["start"], ent["end"], ent["label"]) == TEXT[ent["start"] : ent["end"]]
        mark = select(nodes, "mark", "ent", data_start=ent["start"], data_label=ent["label"])[0]
        assert mark.attrs["data-score"] == str(ent["score"])
        assert ent["label"] in mark.attrs["title"]
    crossing = select(nodes, "mark", "ent", data_label="<b>odd</b>")
    assert [m.attrs["data-part"] for m in crossing] == ["1/2", "2/2"]
    # the entity that is not in the text is listed, not lost
    notes = " ".join(n.text for n in select(nodes, "p", "ief-note"))
    assert "'Nowhere' [500:507] location" in notes
    assert "Nowhere" in " ".join(n.text for n in select(nodes, "span", "unplaced"))
    # the whole text is there, once, as text
    text_div = select(nodes, "div", "ief-text")
    assert text_div[0].text == TEXT

    # ids are unique and every link in the page points at an element that exists
    ids = [n.attrs["id"] for n in nodes if "id" in n.attrs]
    assert len(ids) == len(set(ids))
    hrefs = [n.attrs["href"] for n in select(nodes, "a", "ref")]
    assert hrefs and all(h[1:] in ids for h in hrefs)

    # the relation links to its head and tail, which have their own marks
    rel_links = [h for h in hrefs if h in ("#doc-0-span-0-12", "#doc-0-span-25-33")]
    assert sorted(set(rel_links)) == ["#doc-0-span-0-12", "#doc-0-span-25-33"]
    assert drawn(nodes, "arg", 0, 12, "head") == "Barack Obama"
    tail = select(nodes, id="doc-0-span-25-33")
    assert tail[0].tag == "mark" and tail[0].attrs["data-label"] == "tail" and tail[0].text == "Honolulu"
    assert select(nodes, "span", "ief-rel")[0].text == "born_in"

    # the event: trigger and arguments marked and linked
    trigger = select(nodes, "mark", "trg", id="doc-1-span-8-16")
    assert trigger and trigger[0].attrs["data-label"] == "Attack" and trigger[0].text == "breached"
    assert drawn(nodes, "arg", 0, 7, "Attacker") == "Hackers"
    assert drawn(nodes, "arg", 17, 26, "Victim") == "Acme Corp"
    roles = [n.text for n in select(nodes, "span", "ief-role")]
    assert roles == ["Attacker", "Victim"]

    # triples and the table as tables; phrases the model wrote itself are shown but not linked
    triples = select(nodes, "table", "ief-triples")
    assert len(triples) == 1
    assert len([r for r in select(nodes, "tr") if "data-refs" in r.attrs]) == 2
    assert "was breached by" in " ".join(n.text for n in select(nodes, "span", "unplaced"))
    headers = [n.text for n in select(nodes, "th")]
    assert headers[headers.index("product") :][:2] == ["product", "price"]
    assert select(nodes, "caption")[0].text == "List the products and their prices."
    assert "#doc-2-span-15-23" in hrefs  # X1 phone

    # the error is shown as an error
    errors = select(nodes, "div", "ief-error")
    assert len(errors) == 1 and "model timed out <after 30 s>" in errors[0].text

    # relation offsets over <e1>..</e1> markup index the plain text, which is what is shown
    assert select(nodes, "div", "ief-text")[4].text == "The bottle was full of wine."
    assert drawn(nodes, "arg", 4, 10, "head") == "bottle"

    # the legend names every label with its count; the summary counts what the file holds
    chips = {n.attrs["data-label"]: n.text for n in select(nodes, "button", "ief-chip")}
    assert set(chips) == {"person", "location", "<b>odd</b>", "Attack"}
    assert chips["location"].split()[-1] == "2"
    assert "5 documents" in select(nodes, "p", "ief-summary")[0].text


def test_text_and_model_output_stay_inert() -> None:
    html = render_html(sample_records(), title="<script>alert(1)</script>")
    nodes = parse(html)
    scripts = select(nodes, "script")
    assert len(scripts) == 1 and "ieforgeView" in scripts[0].text  # only the view's own script
    assert not select(nodes, "img") and not select(nodes, "b")
    assert "<script>window" not in html and "<img" not in html
    assert "&lt;img src=x onerror=&#34;window.__pwned = 2&#34;&gt;" in html
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt;</title>" in html
    # and the page allows no other script: the policy names the view script's hash only
    csp = select(nodes, "meta", http_equiv="Content-Security-Policy")[0].attrs["content"]
    assert "script-src 'sha256-" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "default-src 'none'" in csp


def test_service_answers_render() -> None:
    """The task endpoints' answers (the library's result types, as JSON) render as they are."""
    from ieforge.types import (
        Entity,
        Event,
        EventArgument,
        EventResult,
        Mention,
        NERResult,
        OpenTriple,
        Phrase,
        Relation,
        TableResult,
        TableRow,
        TriplesResult,
    )

    text = "Bill Gates founded Microsoft in Seattle."
    gates, microsoft = Mention(**span(text, "Bill Gates")), Mention(**span(text, "Microsoft"))
    seattle = Mention(**span(text, "Seattle"))
    answers = [
        NERResult(
            text=text, labels=["person"], entities=[Entity(**span(text, "Bill Gates", label="person"))]
        ),
        {  # /v1/relations
            "text": text,
            "schema_name": "tacred@1",
            "relations": [
                Relation(label="org:founded_by", head=microsoft, tail=gates, score=0.8).model_dump(),
                Relation(label="org:city_of_headquarters", head=microsoft, tail=seattle).model_dump(),
            ],
        },
        EventResult(
            text=text,
            schema_name="custom@1",
            events=[
                Event(
                    type="Founding",
                    trigger=Mention(**span(text, "founded")),
                    arguments=[EventArgument(**span(text, "Bill Gates"), role="founder")],
                )
            ],
        ),
        TriplesResult(
            text=text,
            triples=[
                OpenTriple(
                    subject=Phrase(**span(text, "Bill Gates")),
                    relation=Phrase(**span(text, "founded")),
                    object=Phrase(**span(text, "Microsoft")),
                    extra=[Phrase(**span(text, "in Seattle"))],
                )
            ],
        ),
        TableResult(
            text=text,
            instruction="List the companies and their founders.",
            headers=["company", "founder"],
            rows=[
                TableRow(
                    cells={"company": Phrase(**span(text, "Microsoft")), "founder": Phrase(text="Gates")}
                )
            ],
        ),
    ]
    records = [a if isinstance(a, dict) else a.model_dump(mode="json") for a in answers]
    nodes = parse(render_fragment(records))
    assert drawn(nodes, "ent", 0, 10, "person") == "Bill Gates"
    assert [n.text for n in select(nodes, "span", "ief-rel")] == [
        "org:founded_by",
        "org:city_of_headquarters",
    ]
    assert drawn(nodes, "arg", 32, 39, "tail") == "Seattle"
    assert "schema: tacred@1" in [n.text for n in select(nodes, "span")]
    assert select(nodes, "mark", "trg", data_label="Founding")[0].text == "founded"
    assert drawn(nodes, "part", 29, 39, "argument") == "in Seattle"
    assert select(nodes, "caption")[0].text == "List the companies and their founders."
    assert drawn(nodes, "part", 19, 28, "company") == "Microsoft"
    assert not select(nodes, "p", "ief-warn")  # everything was placed


def test_limit_shows_a_note() -> None:
    records = ({"id": i, "text": f"text {i}"} for i in range(7))
    nodes = parse(render_html(records, limit=3))
    assert len(select(nodes, "section", "ief-doc")) == 3
    note = select(nodes, "p", "ief-limit")[0].text
    assert "first 3 of 7 documents" in note


# ----- no text and no answer breaks the renderer ----------------------------------------------------------

FIELDS = ["start", "end", "text", "label", "score", "head", "tail", "type", "trigger", "arguments", "role"]
FIELDS += ["subject", "relation", "object", "extra", "headers", "rows", "cells"]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 40) | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(FIELDS), inner, max_size=5),
    max_leaves=16,
)
RECORD_KEYS = ["text", "entities", "relation", "relations", "events", "triples", "table", "error", "id"]
RECORD_KEYS += ["stats", "labels", "headers", "rows", "model", "schema"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(RECORD_KEYS), JSON, max_size=6) | JSON, max_size=3))
def test_any_json_renders(records: list[Any]) -> None:
    html = render_html(records)
    assert html.startswith("<!doctype html>") and html.rstrip().endswith("</html>")


SPANS = st.lists(
    st.tuples(st.integers(0, 24), st.integers(1, 25), st.sampled_from(["a", "b", "<c>"])), max_size=10
)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="ab <&>\n\u00e9\U0001f600", min_size=1, max_size=25), SPANS)
def test_every_span_is_drawn_whole(text: str, spans: list[tuple[int, int, str]]) -> None:
    """Nested, crossing, repeated and out-of-range spans: each in-range one covers exactly its characters."""
    ents = [{"start": s, "end": e, "text": text[s:e], "label": label} for s, e, label in spans]
    nodes = parse(render_html([{"text": text, "entities": ents}]))
    assert select(nodes, "div", "ief-text")[0].text == text
    for s, e, label in spans:
        if s < e <= len(text):
            assert drawn(nodes, "ent", s, e, label) == text[s:e]
    placed = {(s, e) for s, e, _ in spans if s < e <= len(text)}
    assert {n.attrs["id"] for n in select(nodes, "mark") if "id" in n.attrs} == {
        f"doc-0-span-{s}-{e}" for s, e in placed
    }


# ----- reading results files and the command ---------------------------------------------------------------


def test_reader_names_the_bad_line(tmp_path: Path) -> None:
    f = tmp_path / "out.jsonl"
    f.write_text('{"text": "a"}\n\n[1, 2]\n')
    with pytest.raises(InputError, match=r"out.jsonl:3: expected a JSON object, got list"):
        list(read_results(f))
    f.write_text('{"text": "a"}\n{"text": "b",\n')
    with pytest.raises(InputError, match=r"out.jsonl:2: invalid JSON"):
        list(read_results(f))
    with pytest.raises(InputError, match="no such file"):
        read_results(tmp_path / "missing.jsonl")


def test_view_command(tmp_path: Path) -> None:
    results = tmp_path / "ner.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in sample_records()))
    runner = CliRunner()
    res = runner.invoke(app, ["view", str(results), "-o", str(tmp_path / "v.html"), "--limit", "2"])
    assert res.exit_code == 0, res.output
    nodes = parse((tmp_path / "v.html").read_text(encoding="utf-8"))
    assert len(select(nodes, "section", "ief-doc")) == 2
    assert select(nodes, "title")[0].text == "ner.jsonl"
    assert "first 2 of 5" in select(nodes, "p", "ief-limit")[0].text

    res = runner.invoke(app, ["view", str(results), "--title", "My run"])  # default output: ner.html
    assert res.exit_code == 0 and select(parse((tmp_path / "ner.html").read_text()), "h1")[0].text == "My run"

    res = runner.invoke(app, ["view", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "x.html")])
    assert res.exit_code == 2 and "nope.jsonl: no such file" in res.output
    results.write_text('{"text": "a"}\nnot json\n')
    res = runner.invoke(app, ["view", str(results), "-o", str(tmp_path / "x.html")])
    assert res.exit_code == 2 and "ner.jsonl:2: invalid JSON" in res.output.replace("\n", "")
    assert not (tmp_path / "x.html").exists()


def test_page_routes_share_the_renderer() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from ieforge.extractor import Extractor
    from ieforge.serve import page

    api = FastAPI()
    api.include_router(page.router(Extractor("smollm2-135m")))  # the model is never loaded here
    client = TestClient(api)
    res = client.get("/")
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/html")
    nodes = parse(res.text)
    assert res.text == render_page()
    assert {n.attrs["value"] for n in select(nodes, "option")} >= {"ner", "openie", "events"}
    assert select(nodes, "textarea", id="ief-input") and select(nodes, "input", id="ief-labels")
    view_script = parse(render_html([]))[-1].text
    assert view_script in [n.text for n in select(nodes, "script")]  # the same script as the file

    record = sample_records()[0]
    res = client.post("/page/render", json={"records": [record]})
    assert res.status_code == 200
    assert res.text == render_fragment([record])  # the same markup as the file's documents
    assert drawn(parse(res.text), "ent", 0, 12, "person") == "Barack Obama"


# ----- in a browser ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (install Debian's chromium or set IEFORGE_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def check_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000, path


def test_static_view_in_chromium(browser: Any, tmp_path: Path) -> None:
    records = sample_records()
    view = tmp_path / "view.html"
    view.write_text(render_html(records), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("request", lambda req: problems.append(req.url) if not req.url.startswith("file:") else None)
    page.goto(view.as_uri())

    assert page.evaluate("window.ieforgeView && window.ieforgeView.ready") is True  # our script ran
    assert page.evaluate("window.__pwned") is None  # the one in the text did not
    for ent in records[0]["entities"][:4]:
        marks = page.locator(
            f'mark.ent[data-start="{ent["start"]}"][data-end="{ent["end"]}"][data-label="{ent["label"]}"]'
        )
        assert "".join(marks.all_text_contents()) == TEXT[ent["start"] : ent["end"]]
        assert marks.first.is_visible()

    page.locator(".ief-relations a.ref").nth(1).click()  # the tail, Honolulu
    assert page.evaluate("location.hash") == "#doc-0-span-25-33"
    assert page.evaluate("document.querySelector(':target').id") == "doc-0-span-25-33"
    assert page.evaluate("document.querySelector(':target').textContent") == "Honolulu"

    page.locator('.ief-chip[data-label="person"]').click()  # the legend hides a label's marks
    assert page.locator("mark.ent.off").count() == 2
    page.locator('.ief-chip[data-label="person"]').click()
    assert page.locator("mark.ent.off").count() == 0

    shot = tmp_path / "view.png"
    page.screenshot(path=str(shot), full_page=True)
    check_png(shot)
    assert not problems, problems
    page.close()


@pytest.fixture(scope="module")
def live_server(small_backend: Any) -> Iterator[str]:
    from ieforge.extractor import Extractor
    from ieforge.serve import create_app

    with serving(create_app(Extractor(small_backend, max_new_tokens=24))) as url:
        yield url


@pytest.mark.model
def test_live_page_in_chromium(browser: Any, live_server: str, tmp_path: Path) -> None:
    sentence = "Paris is the capital of France."  # SmolLM2-135M finds nested spans here
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.goto(live_server + "/")

    # an error from the task endpoint is shown as one
    page.fill("#ief-input", sentence)
    page.fill("#ief-labels", " , ")
    page.click("#ief-run")
    page.wait_for_selector("#ief-out[data-state=error]", timeout=10_000)
    assert "labels" in page.locator("#ief-out .ief-error").inner_text()
    problems.clear()  # the browser logs the 422 response itself

    page.fill("#ief-labels", "person, organization, location")
    page.click("#ief-run")
    page.wait_for_selector("#ief-out[data-state=done], #ief-out[data-state=error]", timeout=180_000)
    assert page.get_attribute("#ief-out", "data-state") == "done", page.locator("#ief-out").inner_text()

    answer = json.loads(page.locator("#ief-raw").text_content() or "")
    assert answer["text"] == sentence
    marks = page.eval_on_selector_all(
        "#ief-out mark.hl",
        "ms => ms.map(m => [m.dataset.kind, m.dataset.label, +m.dataset.start, +m.dataset.end,"
        " m.textContent])",
    )
    drawn_text: dict[tuple[str, str, int, int], str] = {}
    for kind, label, start, end, text in marks:
        drawn_text[(kind, label, start, end)] = drawn_text.get((kind, label, start, end), "") + text
    for (_, label, start, end), text in drawn_text.items():
        assert text == sentence[start:end], (label, start, end, text)
    found = {(e["label"], e["start"], e["end"]) for e in answer["entities"]}
    assert found, "the model found no entity in the sentence"
    assert {(label, s, e) for kind, label, s, e in drawn_text if kind == "ent"} == found

    shot = tmp_path / "page.png"
    page.screenshot(path=str(shot), full_page=True)
    check_png(shot)
    assert not problems, problems
    page.close()

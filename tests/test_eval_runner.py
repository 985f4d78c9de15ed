"""The benchmark runner without a language model: dataset arguments, format detection, the prediction
cache, averaging and argument checks. Runs on the real model are in test_eval_integration.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ieforge.cli import app
from ieforge.errors import InputError
from ieforge.evaluate.runner import (
    DatasetResult,
    PredictionCache,
    Scores,
    average,
    cache_key,
    check_protocol,
    check_re_labels,
    detect_ner_format,
    detect_re_format,
    load_ner_dataset,
    load_re_dataset,
    parse_data_spec,
    parse_data_specs,
)

runner = CliRunner()

BIO = """-DOCSTART-\tO

SVM\tB-algorithm
is\tO
written\tO
in\tO
Python\tB-programlang
by\tO
Vapnik\tB-researcher
.\tO

The\tO
Turing\tB-misc
Award\tI-misc
went\tO
to\tO
Yann\tB-researcher
LeCun\tI-researcher
.\tO
"""

INSTRUCTUIE = [
    {
        "sentence": "Obama visited Paris .",
        "entities": [
            {"name": "Obama", "type": "person", "pos": [0, 5]},
            {"name": "Paris", "type": "location", "pos": [14, 19]},
        ],
    },
    {"sentence": "The Euro fell .", "entities": [{"name": "Euro", "type": "else", "pos": [4, 8]}]},
]


def _uniner_record(ident: str, text: str, kind: str, answer: list[str]) -> dict[str, object]:
    return {
        "id": ident,
        "conversations": [
            {"from": "human", "value": f"Text: {text}"},
            {"from": "gpt", "value": "I've read this text."},
            {"from": "human", "value": f"What describes {kind} in the text?"},
            {"from": "gpt", "value": json.dumps(answer)},
        ],
    }


UNINER = [
    _uniner_record("U_0", "Obama visited Paris .", "person", ["Obama"]),
    _uniner_record("U_1", "Obama visited Paris .", "location", ["Paris"]),
    _uniner_record("U_2", "Merkel met Obama .", "person", ["Merkel", "Obama"]),
    _uniner_record("U_3", "Merkel met Obama .", "location", []),
]

SEMEVAL = """1\t"The <e1>key</e1> was in a <e2>box</e2>."
Content-Container(e1,e2)
Comment:

2\t"The <e1>author</e1> wrote a <e2>book</e2>."
Product-Producer(e2,e1)
Comment:

3\t"The <e1>sun</e1> rose over the <e2>hill</e2>."
Other
Comment:

"""


def _write(path: Path, content: str | object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


# ----- dataset arguments and formats ------------------------------------------------------------------------


def test_data_spec_parsing(tmp_path: Path) -> None:
    f = _write(tmp_path / "dev.txt", BIO)
    assert parse_data_spec(f"crossner_ai={f}") == ("crossner_ai", f)
    assert parse_data_spec(f" ai = {f} ") == ("ai", f)
    for bad, message in [
        ("crossner_ai", "expected NAME=PATH"),
        (f"={f}", "expected NAME=PATH"),
        ("ai=", "expected NAME=PATH"),
        (f"ai={tmp_path / 'nope.txt'}", "no such file"),
    ]:
        with pytest.raises(InputError, match=message):
            parse_data_spec(bad)
    with pytest.raises(InputError, match="given twice"):
        parse_data_specs([f"ai={f}", f"ai={f}"])
    with pytest.raises(InputError, match="at least one"):
        parse_data_specs([])


def test_format_detection(tmp_path: Path) -> None:
    assert detect_ner_format(_write(tmp_path / "a.json", INSTRUCTUIE)) == "instructuie"
    assert detect_ner_format(_write(tmp_path / "b.json", UNINER)) == "uniner"
    for suffix in (".txt", ".tsv", ".conll", ".bio"):
        assert detect_ner_format(_write(tmp_path / f"c{suffix}", BIO)) == "bio"
    # WNUT-17's test file has no usual suffix: its content decides
    assert detect_ner_format(_write(tmp_path / "emerging.test.annotated", BIO)) == "bio"
    with pytest.raises(InputError, match="unknown NER file format"):
        detect_ner_format(_write(tmp_path / "notes.md", "# Some notes\n\nprose here\n"))
    with pytest.raises(InputError, match="unknown NER JSON format"):
        detect_ner_format(_write(tmp_path / "d.json", {"P1": []}))
    with pytest.raises(InputError, match="not valid JSON"):
        detect_ner_format(_write(tmp_path / "e.json", "[{"))
    assert detect_re_format(_write(tmp_path / "s.TXT", SEMEVAL)) == "semeval"
    assert detect_re_format(_write(tmp_path / "semeval.slice", SEMEVAL)) == "semeval"
    assert detect_re_format(tmp_path / "a.json") == "tacred"  # a JSON list: TACRED-style records
    assert detect_re_format(_write(tmp_path / "f.json", {"P1": []})) == "fewrel"
    with pytest.raises(InputError, match="unknown relation file format"):
        detect_re_format(tmp_path / "notes.md")


def test_column_file_uses_the_builtin_label_map_and_drops_the_catch_all(tmp_path: Path) -> None:
    f = _write(tmp_path / "dev.txt", BIO)
    d = load_ner_dataset("crossner_ai", f)
    assert d.format == "bio" and len(d.examples) == 2
    # every type of the dataset is asked, by its natural-language name, except the catch-all
    assert "program language" in d.labels and "university" in d.labels and "else" not in d.labels
    assert d.dropped_labels == ["else"]
    first, second = d.examples
    assert first.labels == d.labels
    assert first.strings["program language"] == ["Python"] and first.strings["person"] == []
    assert [e.text for e in second.entities or []] == ["Yann LeCun"]  # the Turing Award (misc) is not scored
    assert d.sha256 == __import__("hashlib").sha256(f.read_bytes()).hexdigest()

    kept = load_ner_dataset("crossner_ai", f, keep_catch_all=True)
    assert "else" in kept.labels and kept.dropped_labels == []
    assert {e.text for e in kept.examples[1].entities or []} == {"Turing Award", "Yann LeCun"}

    # an unknown name keeps the raw tags; the folder name is tried before giving up
    raw = load_ner_dataset("mine", f)
    assert raw.labels == ["algorithm", "programlang", "researcher"] and raw.dropped_labels == ["misc"]
    by_folder = load_ner_dataset("dev", _write(tmp_path / "crossner_ai" / "dev.txt", BIO))
    assert "program language" in by_folder.labels


def test_instructuie_and_uniner_files(tmp_path: Path) -> None:
    f = _write(tmp_path / "conll" / "dev.json", INSTRUCTUIE)
    d = load_ner_dataset("conll", f)
    assert d.format == "instructuie" and d.labels == ["person", "location"] and d.dropped_labels == ["else"]
    assert d.examples[1].entities == [] and d.examples[1].strings == {"person": [], "location": []}
    _write(tmp_path / "conll" / "labels.json", ["location", "else", "organization", "person"])
    d = load_ner_dataset("conll", f)
    assert d.labels == ["location", "organization", "person"]  # labels.json beside the file wins

    u = load_ner_dataset("ai", _write(tmp_path / "test.json", UNINER))
    assert u.format == "uniner" and u.labels == ["person", "location"]
    assert [x.id for x in u.examples] == ["U_0", "U_2"]
    assert u.examples[1].entities is None and u.examples[1].strings == {
        "person": ["Merkel", "Obama"],
        "location": [],
    }
    check_protocol([u], "uniner")
    with pytest.raises(InputError, match="--protocol uniner"):
        check_protocol([d, u], "strict")
    with pytest.raises(InputError, match="unknown protocol"):
        check_protocol([d], "loose")


def test_relation_files(tmp_path: Path) -> None:
    s = load_re_dataset("semeval", _write(tmp_path / "dev.txt", SEMEVAL))
    assert s.format == "semeval" and [x.id for x in s.examples] == ["1", "2", "3"]
    check_re_labels([s])
    fewrel = {
        "P177": [
            {
                "tokens": ["A", "bridge", "crosses", "the", "river"],
                "h": ["bridge", "Q1", [[1]]],
                "t": ["river", "Q2", [[4]]],
            }
        ]
    }
    f = _write(tmp_path / "fewrel" / "val.json", fewrel)
    with pytest.raises(InputError, match=r"pid2name\.json"):
        check_re_labels([load_re_dataset("fewrel", f)])
    _write(tmp_path / "fewrel" / "pid2name.json", {"P177": ["crosses", "obstacle crossed"]})
    d = load_re_dataset("fewrel", f)
    assert d.examples[0].label == "crosses" and d.relation_names is not None
    check_re_labels([d])
    with pytest.raises(InputError, match="not in schema 'semeval'"):
        check_re_labels([d], "semeval")
    tacred = [
        {
            "id": "t1",
            "token": ["Bill", "Gates", "founded", "Microsoft", "."],
            "relation": "org:founded_by",
            "subj_start": 3,
            "subj_end": 3,
            "obj_start": 0,
            "obj_end": 1,
            "subj_type": "ORGANIZATION",
            "obj_type": "PERSON",
        }
    ]
    t = load_re_dataset("tacred", _write(tmp_path / "tacred" / "dev.json", tacred))
    assert t.format == "tacred" and t.examples[0].head.text == "Microsoft"
    assert t.examples[0].tail.text == "Bill Gates" and t.examples[0].head_type == "ORGANIZATION"
    check_re_labels([t])  # its own schema: tacred


# ----- the cache --------------------------------------------------------------------------------------------


def test_cache_round_trip_torn_line_and_foreign_keys(tmp_path: Path) -> None:
    key = cache_key("abc", "m", "p@1", {"labels": ["x"]})
    assert key != cache_key("abc", "m", "p@1", {"labels": ["y"]})
    assert key != cache_key("abd", "m", "p@1", {"labels": ["x"]})
    store = PredictionCache(tmp_path / "cache", "ner", key)
    assert store.load() == {}
    with store.writer() as add:
        add("a", {"v": 1})
        add("b", {"v": 2})
    assert store.path is not None
    lines = store.path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["id"] for x in lines] == ["a", "b"]
    # a killed run: a torn third line, and a line another configuration wrote
    foreign = json.dumps({"key": "other", "id": "c", "prediction": {"v": 9}})
    store.path.write_text(lines[0] + "\n" + foreign + "\n" + lines[1] + "\n" + '{"key": "', encoding="utf-8")
    assert store.load() == {"a": {"v": 1}, "b": {"v": 2}}
    assert store.path.read_text(encoding="utf-8").endswith("}\n")  # torn tail cut before appending
    with store.writer() as add:
        add("c", {"v": 3})
    assert store.load() == {"a": {"v": 1}, "b": {"v": 2}, "c": {"v": 3}}
    nothing = PredictionCache(None, "ner", key)
    with nothing.writer() as add:
        add("a", {"v": 1})
    assert nothing.load() == {}


def test_re_metrics_keep_the_none_variant_apart() -> None:
    from ieforge.evaluate.metrics import relation_prf

    gold, pred = ["Other", "A(e1,e2)", "Other"], ["Other", "Other", "A(e1,e2)"]
    assert relation_prf(gold, pred, "Other").f1 == 0.0
    assert relation_prf(gold, pred, "Other", keep_none=True).f1 == pytest.approx(1 / 3)


# ----- report and averaging ---------------------------------------------------------------------------------


def _result(name: str, f1: float, with_none: float | None = None) -> DatasetResult:
    return DatasetResult(
        name=name,
        path=f"/data/{name}",
        sha256="0" * 64,
        format="bio",
        examples=10,
        examples_in_file=20,
        scores=Scores(precision=f1, recall=f1, f1=f1, tp=1, fp=1, fn=1),
        f1_with_none=with_none,
    )


def test_average_is_unweighted_over_datasets() -> None:
    a = average([_result("a", 0.2, 0.5), _result("b", 0.6, 0.7)])
    assert a.datasets == 2 and a.f1 == pytest.approx(0.4) and a.f1_with_none == pytest.approx(0.6)
    assert average([_result("a", 0.2, 0.5), _result("b", 0.6)]).f1_with_none is None
    assert average([]).datasets == 0


# ----- the command line -------------------------------------------------------------------------------------


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kw: object) -> None:
        raise AssertionError("a model was loaded")

    monkeypatch.setattr("ieforge.extractor.load_model", refuse)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ner", "--data", "crossner_ai"], "expected NAME=PATH"),
        (["ner", "--data", "ai=/no/such/file.txt"], "no such file"),
        (["ner", "--data", "ai={notes}"], "unknown NER file format"),
        (["ner", "--data", "ai={uniner}"], "--protocol uniner"),
        (["ner", "--data", "ai={bio}", "--protocol", "loose"], "unknown protocol"),
        (["ner", "--data", "ai={bio}", "--data", "ai={bio}"], "given twice"),
        (["re", "--data", "s={notes}"], "unknown relation file format"),
        (["re", "--data", "s={semeval}", "--schema", "nosuch"], "unknown relation schema"),
        (["re", "--data", "s={semeval}", "--method", "guess"], "method is qa4re or vanilla"),
    ],
)
def test_bad_arguments_fail_in_one_line_before_any_model_loads(
    tmp_path: Path, no_model: None, args: list[str], message: str
) -> None:
    files = {
        "notes": _write(tmp_path / "notes.md", "prose\n"),
        "uniner": _write(tmp_path / "u.json", UNINER),
        "bio": _write(tmp_path / "dev.txt", BIO),
        "semeval": _write(tmp_path / "s.txt", SEMEVAL),
    }
    res = runner.invoke(app, ["eval", *[a.format(**files) for a in args]])
    assert res.exit_code == 2
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], res.output

"""Issue 23's drills on inputs and flags: clear one-line errors before any model loads, empty texts that
ask no model, tag-first BIO files (MIT Movie / Restaurant layout) and one output option for every task
command. No model runs here: where a model would load, the model given is a folder that holds none, so
loading it would fail with its own message (or the small model with an empty IEFORGE_HOME that must
stay empty)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ieforge.cli import app
from ieforge.data import read_bio
from ieforge.errors import IEForgeError, InputError
from ieforge.extractor import Extractor
from ieforge.tasks.relations import check_relation_options

runner = CliRunner()


@pytest.fixture
def no_model(tmp_path: Path) -> str:
    """A --model that cannot load: an empty folder (loading it fails with 'a folder without a model')."""
    folder = tmp_path / "empty-model"
    folder.mkdir()
    return str(folder)


def _one_error_line(output: str) -> str:
    lines = [x for x in output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), output
    return lines[0]


# --- InputError, and the one rule on relation options ----------------------------------------------------


def test_input_error_is_a_value_error() -> None:
    assert issubclass(InputError, ValueError) and issubclass(InputError, IEForgeError)
    with pytest.raises(ValueError, match="vanilla question has no yes/no form"):
        check_relation_options("vanilla", "verify")


@pytest.mark.parametrize(
    ("method", "reading", "permutations", "message"),
    [
        ("vanilla", "verify", 1, "reading 'verify' works with method 'qa4re' only"),
        ("guess", "letters", 1, "method is qa4re or vanilla, not 'guess'"),
        ("qa4re", "vote", 1, "reading is letters, generate, verify or score, not 'vote'"),
        ("qa4re", "generate", 2, "permutations above 1 need the letters or score reading"),
        ("qa4re", "letters", 0, "permutations must be at least 1"),
    ],
)
def test_relation_options_rule(method: str, reading: str, permutations: int, message: str) -> None:
    with pytest.raises(InputError, match=message):
        check_relation_options(method, reading, permutations)


def test_library_refuses_vanilla_verify_before_loading(no_model: str) -> None:
    ex = Extractor(no_model)
    with pytest.raises(InputError, match="works with method 'qa4re' only"):
        ex.relations(
            "Bill Gates founded Microsoft.", "Bill Gates", "Microsoft", method="vanilla", reading="verify"
        )
    with pytest.raises(InputError, match="works with method 'qa4re' only"):
        ex.extract_relations("Bill Gates founded Microsoft.", method="vanilla", reading="verify")
    assert ex._backend is None


def test_cli_re_vanilla_verify_is_one_line_before_the_model(no_model: str) -> None:
    res = runner.invoke(
        app,
        [
            *["re", "Bill Gates founded Microsoft.", "--head", "Bill Gates", "--tail", "Microsoft"],
            *["--method", "vanilla", "--reading", "verify", "--model", no_model],
        ],
    )
    assert res.exit_code == 2
    assert "reading 'verify' works with method 'qa4re' only" in _one_error_line(res.output)


def test_corpus_run_vanilla_verify_is_one_line_and_writes_nothing(tmp_path: Path, no_model: str) -> None:
    docs = tmp_path / "in.jsonl"
    docs.write_text('{"id": 1, "text": "Bill Gates founded Microsoft."}\n')
    out = tmp_path / "out.jsonl"
    res = runner.invoke(
        app,
        [
            *["run", "--task", "re", "-i", str(docs), "-o", str(out)],
            *["--method", "vanilla", "--reading", "verify", "--model", no_model],
        ],
    )
    assert res.exit_code == 2
    assert "works with method 'qa4re' only" in _one_error_line(res.output)
    assert not out.exists()  # before: one error record per document


def test_eval_re_vanilla_verify_is_one_line(tmp_path: Path, no_model: str) -> None:
    semeval = tmp_path / "s.txt"
    semeval.write_text('1\t"The <e1>key</e1> was in a <e2>box</e2>."\nContent-Container(e1,e2)\nComment:\n\n')
    res = runner.invoke(
        app,
        [
            "eval",
            "re",
            "--data",
            f"s={semeval}",
            "--method",
            "vanilla",
            "--reading",
            "verify",
            "--model",
            no_model,
        ],
    )
    assert res.exit_code == 2
    assert "works with method 'qa4re' only" in _one_error_line(res.output)


# --- a --model folder without a model ----------------------------------------------------------------------


def test_empty_model_folder_is_one_whole_line(no_model: str) -> None:
    res = runner.invoke(app, ["ner", "Barack Obama", "--labels", "person", "--model", no_model])
    assert res.exit_code == 2
    line = " ".join(res.output.split())  # the console may wrap the one line
    assert f"{no_model} is a folder without a model" in line
    assert line.endswith("or a LoRA adapter (adapter_config.json)")


# --- empty texts ask no model ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n\t \n"])
def test_empty_text_returns_empty_results_without_a_model(no_model: str, text: str) -> None:
    ex = Extractor(no_model)  # loading it would raise
    ner = ex.ner(text, ["person", "location"])
    assert ner.entities == [] and ner.labels == ["person", "location"] and ner.text == text
    assert ner.stats.answers == 0
    assert ex.entities(text, ["person"]) == []
    assert ex.extract_relations(text, schema="tacred") == []
    events = ex.event_result(text, schema="casie")
    assert events.events == [] and events.schema_name.startswith("casie")
    assert ex.events(text) == []
    assert ex.triples_result(text).triples == [] and ex.triples(text) == []
    table = ex.table(text, instruction="List the products.", headers=["product", "price"])
    assert table.rows == [] and table.headers == ["product", "price"]
    assert table.to_csv() == "product,price\n"
    assert ex._backend is None and ex._ner_backend is None
    # the arguments are still checked
    with pytest.raises(InputError):
        ex.ner(text, [" "])
    with pytest.raises(InputError):
        ex.table(text, instruction="List them.", headers=[])
    # a pair cannot be in an empty text: refused, still without a model
    with pytest.raises(InputError, match="does not occur"):
        ex.relations(text, "Bill", "Microsoft")
    assert ex._backend is None


@pytest.mark.parametrize(
    ("args", "empty"),
    [
        (["ner", "", "--labels", "person"], {"entities": []}),
        (["re", ""], []),
        (["events", "  "], {"events": []}),
        (["openie", "\n"], {"triples": []}),
        (["table", "", "--instruction", "List the products.", "--headers", "product,price"], {"rows": []}),
    ],
)
def test_cli_empty_text_prints_an_empty_result_without_loading_the_model(
    tmp_path: Path, args: list[str], empty: Any
) -> None:
    """Loading smollm2-135m converts it into IEFORGE_HOME (see test_serve_cli): an empty home that stays
    empty shows that no model was loaded."""
    home = tmp_path / "home"
    home.mkdir()
    res = runner.invoke(app, [*args, "--model", "smollm2-135m", "--json"], env={"IEFORGE_HOME": str(home)})
    assert res.exit_code == 0, res.output
    result = json.loads(res.stdout)
    if isinstance(empty, dict):
        assert {k: result[k] for k in empty} == empty and result["text"] == args[1]
    else:
        assert result == empty
    assert list(home.iterdir()) == []


# --- BIO files with the tag first (MIT Movie / MIT Restaurant layout) --------------------------------------

# hand-written in the layout MIT publishes (tag<TAB>word); no MIT data is copied here
TAG_FIRST = (
    "O\twhat\nO\tmovies\nO\tstar\nB-ACTOR\tsteve\nI-ACTOR\tmcqueen\n\n"
    "B-GENRE\tcomedy\nO\tfilms\nO\tfrom\nB-YEAR\tthe\nI-YEAR\tnineties\n\n"
    "O\tare\nO\tthere\nB-Amenity\tdrive\nI-Amenity\tthru\nO\tplaces\n"
)


def test_tag_first_file_is_read_as_published(tmp_path: Path) -> None:
    path = tmp_path / "engtest.bio"
    path.write_text(TAG_FIRST)
    examples = read_bio(path)  # no flag: the layout is found from the file
    assert [ex.text for ex in examples] == [
        "what movies star steve mcqueen",
        "comedy films from the nineties",
        "are there drive thru places",
    ]
    spans = [[(e.text, e.label) for e in ex.entities] for ex in examples]
    assert spans == [
        [("steve mcqueen", "ACTOR")],
        [("comedy", "GENRE"), ("the nineties", "YEAR")],
        [("drive thru", "Amenity")],
    ]
    for ex in examples:
        assert all(ex.text[e.start : e.end] == e.text for e in ex.entities)
    assert read_bio(path, tag_first=True) == examples


def test_tag_last_files_stay_tag_last(tmp_path: Path) -> None:
    path = tmp_path / "dev.txt"
    # every token is a tag-like word, and so is every tag: the usual layout (tag last) wins
    path.write_text("O\tO\nB-X\tB-PER\n")
    (ex,) = read_bio(path)
    assert ex.text == "O B-X" and [(e.text, e.label) for e in ex.entities] == [("B-X", "PER")]
    bad = tmp_path / "bad.txt"
    bad.write_text("O\twhat\nB-ACTOR\tsteve\nsomething\telse\n")
    # mostly tag first: read so, and the odd line named
    with pytest.raises(InputError, match="line 3: tag 'something' is neither O nor PREFIX-TYPE"):
        read_bio(bad)


def test_eval_ner_reads_a_tag_first_file_before_the_model(tmp_path: Path, no_model: str) -> None:
    path = tmp_path / "engtest.bio"
    path.write_text(TAG_FIRST)
    res = runner.invoke(app, ["eval", "ner", "--data", f"mit_movie={path}", "--model", no_model])
    assert res.exit_code == 2
    # the file was read: what fails is the model (before: "tag 'what' is neither O nor PREFIX-TYPE")
    assert "is a folder without a model" in " ".join(res.output.split())
    assert "neither O nor" not in res.output


# --- one output option for every task command --------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ner", "x", "-l", "person", "--format", "xml"], "--format is table, json or csv, not 'xml'"),
        (
            ["re", "x", "--head", "x", "--tail", "x", "-f", "yaml"],
            "--format is table, json or csv, not 'yaml'",
        ),
        (["events", "x", "--format", "csv"], "--format is table or json, not 'csv'"),
        (["openie", "x", "--format", "xml"], "--format is table, json or csv, not 'xml'"),
        (
            ["table", "x", "--instruction", "a", "--headers", "b", "-f", "xml"],
            "--format is table, json or csv",
        ),
        (["ner", "x", "-l", "person", "--json", "--format", "csv"], "--json is --format json"),
    ],
)
def test_format_option_is_checked_before_the_model(args: list[str], message: str, no_model: str) -> None:
    res = runner.invoke(app, [*args, "--model", no_model])
    assert res.exit_code == 2
    assert message in _one_error_line(res.output)


@pytest.mark.parametrize("command", ["ner", "re", "events", "openie", "table"])
def test_every_task_command_takes_format_and_json(command: str) -> None:
    res = runner.invoke(app, [command, "--help"], terminal_width=200)
    assert res.exit_code == 0
    help_text = " ".join(res.output.split())
    assert "--format" in help_text and "--json" in help_text


def test_csv_writers_on_results(capsys: pytest.CaptureFixture[str]) -> None:
    from ieforge.cli import (
        _ENTITY_COLUMNS,
        _RELATION_COLUMNS,
        _entity_row,
        _relation_row,
        _write_rows,
        _write_triples_csv,
    )
    from ieforge.types import Entity, Mention, OpenTriple, Phrase, Relation, TriplesResult

    text = 'Bill Gates, "the founder", started Microsoft.'
    entity = Entity(start=0, end=10, text="Bill Gates", label="person", score=0.5)
    _write_rows(_ENTITY_COLUMNS, [_entity_row(entity.model_dump())])
    assert capsys.readouterr().out == "start,end,text,label,score\n0,10,Bill Gates,person,0.5\n"
    rel = Relation(
        label="org:founded_by",
        head=Mention(start=35, end=44, text="Microsoft"),
        tail=Mention(start=0, end=10, text="Bill Gates"),
        head_type="ORGANIZATION",
    )
    _write_rows(_RELATION_COLUMNS, [_relation_row(rel.model_dump())])
    assert capsys.readouterr().out.splitlines() == [
        "head,head_start,head_end,head_type,relation,tail,tail_start,tail_end,tail_type,score",
        "Microsoft,35,44,ORGANIZATION,org:founded_by,Bill Gates,0,10,,",
    ]
    triple = OpenTriple(
        subject=Phrase(text="Bill Gates", start=0, end=10),
        relation=Phrase(text="started"),
        object=Phrase(text="Microsoft", start=35, end=44),
        extra=[Phrase(text='"the founder"', start=12, end=25)],
    )
    _write_triples_csv(TriplesResult(text=text, triples=[triple]).model_dump())
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("subject,subject_start,subject_end,relation,")
    assert lines[1] == 'Bill Gates,0,10,started,,,Microsoft,35,44,"""the founder""",'


@pytest.mark.model
def test_format_csv_and_json_alias_with_the_small_model(model_home: Path) -> None:
    text = "Barack Obama was born in Honolulu."
    res = runner.invoke(app, ["ner", text, "-l", "person,location", "--model", "smollm2", "--format", "csv"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0] == "start,end,text,label,score"
    for line in lines[1:]:
        start, end, surface = line.split(",")[:3]
        assert text[int(start) : int(end)] == surface
    pair = ["re", text, "--head", "Barack Obama", "--tail", "Honolulu", "--model", "smollm2"]
    res = runner.invoke(app, [*pair, "-f", "csv"])
    assert res.exit_code == 0, res.output
    header, row = res.stdout.splitlines()
    assert header.startswith("head,head_start,head_end") and row.startswith("Barack Obama,0,12,")
    res = runner.invoke(app, [*pair, "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["head"]["text"] == "Barack Obama"

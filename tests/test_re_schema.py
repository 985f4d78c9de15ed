"""Relation schemas: built-in ones match the published QA4RE tables; user files are checked by field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import shared_data

from ieforge.errors import InputError
from ieforge.schemas import RelationSchema, available_relation_schemas, load_relation_schema

# schema name -> (prefix of the published tables, none label, number of positive labels)
BUILTIN = {
    "semeval": ("SEMEVAL", "Other", 18),
    "tacred": ("TACRED", "no_relation", 41),
    "tacrev": ("TACRED", "no_relation", 41),
    "retacred": ("RETACRED", "no_relation", 39),
}


@pytest.fixture(scope="module")
def published() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        shared_data("qa4re_templates", "re_templates.json").read_text(encoding="utf-8")
    )
    return data


def test_available() -> None:
    assert available_relation_schemas() == [
        "fewrel",
        "retacred",
        "scierc",
        "semeval",
        "semeval-t2",
        "semeval-t3",
        "tacred",
        "tacrev",
        "webnlg",
    ]


@pytest.mark.parametrize("name", ["semeval-t2", "semeval-t3"])
def test_semeval_template_sets_reword_every_option(name: str) -> None:
    published, alt = load_relation_schema("semeval"), load_relation_schema(name)
    assert alt.labels == published.labels and alt.none_label == published.none_label
    assert alt.constraints == published.constraints and alt.option_order == published.option_order
    for label in published.all_labels:
        assert alt.templates[label] != published.templates[label], label
    # the direction is the published one: in Product-Producer(e1,e2) e1 is the product, e2 the producer
    sentence = alt.verbalize("Product-Producer(e1,e2)", "the cake", "the baker")
    assert sentence in {"the cake is made by the baker", "the baker makes the cake"}


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_builtin_schema_matches_published_tables(name: str, published: dict[str, Any]) -> None:
    prefix, none, count = BUILTIN[name]
    schema = load_relation_schema(name)
    assert schema.name == name and schema.id == f"{name}@1"
    assert schema.none_label == none
    assert len(schema.labels) == count
    # the published label list, in its order, without the none label
    assert schema.labels == [label for label in published[f"{prefix}_LABELS"] if label != none]
    assert schema.all_labels == [*schema.labels, none]
    # the QA4RE ("SURE") templates; none of them carries the mojibake, so they are identical
    assert schema.templates == published[f"SURE_{prefix}_LABEL_TEMPLATES"]
    assert schema.templates[none] == ["{subj} has no known relations to {obj}"]
    # the reversed type constraints, lists in the published order (the order QA4RE shows options in)
    assert schema.constraints is not None
    assert list(schema.constraints.items()) == list(published[f"{prefix}_VALID_CONDITIONS_REV"].items())
    # ... and they say the same as the forward table
    forward = {
        (lab, pair) for lab, pairs in published[f"{prefix}_VALID_CONDITIONS"].items() for pair in pairs
    }
    assert forward == {(lab, pair) for pair, labs in schema.constraints.items() for lab in labs}


def test_label_counts_are_the_published_ones(published: dict[str, Any]) -> None:
    # 9 directed relations x 2 + Other; TACRED 41 + no_relation; Re-TACRED 39 + no_relation
    assert len(published["SEMEVAL_LABELS"]) == 19
    assert len(published["TACRED_LABELS"]) == 42
    assert len(published["RETACRED_LABELS"]) == 40
    tacred, retacred = load_relation_schema("tacred"), load_relation_schema("retacred")
    assert set(tacred.labels) - set(retacred.labels) == {
        "org:city_of_headquarters",
        "org:country_of_headquarters",
        "org:stateorprovince_of_headquarters",
        "org:parents",
        "org:subsidiaries",
        "per:alternate_names",
    }
    assert set(retacred.labels) - set(tacred.labels) == {
        "org:city_of_branch",
        "org:country_of_branch",
        "org:stateorprovince_of_branch",
        "per:identity",
    }


def test_tacrev_is_tacred_relabelled() -> None:
    tacred, tacrev = load_relation_schema("tacred"), load_relation_schema("tacrev")
    assert tacrev.model_dump(exclude={"name"}) == tacred.model_dump(exclude={"name"})


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_every_template_verbalizes(name: str) -> None:
    schema = load_relation_schema(name)
    for label in schema.all_labels:
        assert schema.templates[label]
        for k in range(len(schema.templates[label])):
            sentence = schema.verbalize(label, "Ada Lovelace", "Øresund {x}", k)
            assert "Ada Lovelace" in sentence and "Øresund {x}" in sentence
            assert "{subj}" not in sentence and "{obj}" not in sentence
            # no mojibake, no curly quotes in what ships
            assert sentence.replace("Øresund", "").isascii(), sentence


def test_semeval_directions() -> None:
    schema = load_relation_schema("semeval")
    assert schema.verbalize("Component-Whole(e1,e2)", "wheel", "car") == "wheel is the component of car"
    assert schema.verbalize("Component-Whole(e2,e1)", "car", "wheel") == "wheel is the component of car"
    assert schema.verbalize("Other", "a", "b") == "a has no known relations to b"


def test_verbalize_inserts_entities_verbatim() -> None:
    schema = load_relation_schema("tacred")
    assert schema.verbalize("per:title", "{obj}", "{subj}") == "{obj} is a {subj}"
    assert schema.verbalize("per:title", "a\\1 {0}", "$b") == "a\\1 {0} is a $b"
    retacred = load_relation_schema("retacred")
    assert retacred.verbalize("per:identity", "He", "Obama", 1) == "He and Obama are the same person"
    assert retacred.verbalize("per:identity", "He", "Obama", -1) == "He and Obama are the same person"
    with pytest.raises(InputError, match="unknown label 'per:nope'"):
        schema.verbalize("per:nope", "a", "b")
    with pytest.raises(InputError, match="no template 1"):
        schema.verbalize("per:title", "a", "b", 1)


def test_allowed_labels_follow_the_constraints() -> None:
    tacred = load_relation_schema("tacred")
    # the published order for the pair, not the alphabetical label order
    assert tacred.allowed_labels("PERSON", "CITY") == [
        "per:city_of_birth",
        "per:city_of_death",
        "per:cities_of_residence",
    ]
    assert tacred.allowed_labels(" ORGANIZATION ", "URL") == ["org:website"]
    assert tacred.allowed_labels("PERSON", "URL") == []  # pair unknown to the constraints
    assert tacred.allowed_labels("person", "city") == []  # types are matched exactly
    assert tacred.allowed_labels(None, None) == tacred.labels
    assert tacred.allowed_labels("PERSON", None) == tacred.labels
    assert tacred.none_label not in tacred.allowed_labels(None, None)
    semeval = load_relation_schema("semeval")
    assert semeval.allowed_labels(None, None) == semeval.labels
    assert semeval.allowed_labels("MISC", "MISC") == semeval.labels
    # the result is a copy
    semeval.allowed_labels(None, None).clear()
    assert len(semeval.labels) == 18


def _schema(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "toy",
        "version": 2,
        "none_label": "none",
        "labels": ["born_in", "works_for", "lives_in"],
        "templates": {
            "born_in": ["{subj} was born in {obj}"],
            "works_for": ["{subj} works for {obj}", "{obj} employs {subj}"],
            "lives_in": ["{subj} lives in {obj}"],
            "none": ["{subj} has no known relations to {obj}"],
        },
        "constraints": {"PER:LOC": ["lives_in", "born_in"], "PER:ORG": ["works_for"]},
    }
    data.update(changes)
    return data


def test_option_order_schema_or_constraint() -> None:
    by_schema = RelationSchema.model_validate(_schema())
    assert by_schema.option_order == "schema"
    assert by_schema.allowed_labels("PER", "LOC") == ["born_in", "lives_in"]
    by_constraint = RelationSchema.model_validate(_schema(option_order="constraint"))
    assert by_constraint.allowed_labels("PER", "LOC") == ["lives_in", "born_in"]
    unconstrained = RelationSchema.model_validate(_schema(constraints=None))
    assert unconstrained.allowed_labels("PER", "LOC") == ["born_in", "works_for", "lives_in"]


def test_user_schema_files_yaml_and_json(tmp_path: Path) -> None:
    y = tmp_path / "toy.yaml"
    y.write_text(yaml.safe_dump(_schema(descriptions={"born_in": "place of birth"})), encoding="utf-8")
    j = tmp_path / "toy.json"
    j.write_text(json.dumps(_schema()), encoding="utf-8")
    for source in (y, str(y), j):
        schema = load_relation_schema(source)
        assert schema.id == "toy@2"
        assert schema.verbalize("works_for", "Ann", "ACME", 1) == "ACME employs Ann"
    assert load_relation_schema(y).descriptions == {"born_in": "place of birth"}


# (change to a valid schema, text the one-line error must contain)
BAD: list[tuple[dict[str, Any], str]] = [
    ({"templates": {**_schema()["templates"], "lives_in": []}}, "templates.lives_in: missing"),
    (
        {"templates": {k: v for k, v in _schema()["templates"].items() if k != "none"}},
        "templates.none: missing",
    ),
    ({"templates": {**_schema()["templates"], "born_in": ["{subj} was born"]}}, "templates.born_in.0:"),
    (
        {"templates": {**_schema()["templates"], "works_for": ["{subj} works for {obj}", "{obj} hires"]}},
        "templates.works_for.1: '{obj} hires' has no {subj}",
    ),
    (
        {"templates": {**_schema()["templates"], "none": ["{subj} and {obj} are unrelated in {doc}"]}},
        "templates.none.0: unknown placeholder '{doc}'",
    ),
    (
        {"templates": {**_schema()["templates"], "none": ["{subj} has no relation to {obj"]}},
        "templates.none.0:",
    ),
    ({"templates": {**_schema()["templates"], "founded": ["{subj} founded {obj}"]}}, "templates.founded"),
    ({"templates": {**_schema()["templates"], "born_in": "{subj} was born in {obj}"}}, "templates.born_in"),
    ({"constraints": {"PER:LOC": ["lives_in", "died_in"]}}, "constraints.PER:LOC: unknown label 'died_in'"),
    ({"constraints": {"PER:LOC": ["none"]}}, "constraints.PER:LOC: the none label is always allowed"),
    ({"constraints": {"PER-LOC": ["lives_in"]}}, "constraints.PER-LOC: key must look like"),
    ({"constraints": {"PER:LOC": ["lives_in", "lives_in"]}}, "constraints.PER:LOC: a label is listed twice"),
    ({"labels": ["born_in", "works_for", "lives_in", "none"]}, "none_label: 'none' must not also be"),
    ({"labels": ["born_in", "born_in", "works_for", "lives_in"]}, "labels.1: 'born_in' is listed twice"),
    ({"labels": []}, "labels: at least one"),
    ({"descriptions": {"died_in": "x"}}, "descriptions.died_in: not a label"),
    ({"version": "two"}, "version:"),
    ({"colour": "blue"}, "colour: Extra inputs are not permitted"),
    ({"option_order": "constraint", "constraints": None}, "option_order: 'constraint' needs constraints"),
    ({"option_order": "alphabetical"}, "option_order:"),
]


@pytest.mark.parametrize(("change", "expected"), BAD)
def test_bad_schema_file_names_file_and_field(tmp_path: Path, change: dict[str, Any], expected: str) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(_schema(**change)), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_relation_schema(path)
    message = str(info.value)
    assert message.startswith(f"{path}: invalid relation schema: ")
    assert expected in message
    assert "\n" not in message


def test_missing_field_is_named(tmp_path: Path) -> None:
    data = _schema()
    del data["none_label"]
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InputError, match=r"mine\.json: invalid relation schema: none_label: Field required"):
        load_relation_schema(path)


def test_unreadable_schema_files(tmp_path: Path) -> None:
    bad_yaml = tmp_path / "a.yaml"
    bad_yaml.write_text("name: x\nlabels: [a, b\nversion: 1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"a\.yaml: line \d+: not valid YAML"):
        load_relation_schema(bad_yaml)
    bad_json = tmp_path / "b.json"
    bad_json.write_text('{"name": "x",\n "labels": [}', encoding="utf-8")
    with pytest.raises(InputError, match=r"b\.json: line 2: not valid JSON"):
        load_relation_schema(bad_json)
    listing = tmp_path / "c.yaml"
    listing.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"c\.yaml: a relation schema must be a mapping"):
        load_relation_schema(listing)
    with pytest.raises(InputError, match=r"nowhere\.yaml: no such relation schema file"):
        load_relation_schema(str(tmp_path / "nowhere.yaml"))
    with pytest.raises(
        InputError, match=r"unknown relation schema 'ace05' \(available: fewrel, retacred, scierc, semeval"
    ):
        load_relation_schema("ace05")

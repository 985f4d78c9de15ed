"""Event schemas: the packaged ones (ACE 2005, CASIE, RAMS), user files in full and compact form, the
builders from raw CASIE/RAMS data, and one-line errors for bad schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA

from ieforge.errors import InputError
from ieforge.schemas import (
    EventSchema,
    EventType,
    available_event_schemas,
    event_schema_from_casie,
    event_schema_from_rams,
    load_event_schema,
)

ACE_ROLES = {
    "Adjudicator", "Agent", "Artifact", "Attacker", "Beneficiary", "Buyer", "Defendant", "Destination",
    "Entity", "Giver", "Instrument", "Org", "Origin", "Person", "Place", "Plaintiff", "Prosecutor",
    "Recipient", "Seller", "Target", "Vehicle", "Victim",
}  # fmt: skip


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- packaged schemas ----------------------------------------------------------------------------------


def test_available() -> None:
    assert available_event_schemas() == ["ace05", "casie", "rams"]


@pytest.mark.parametrize(("name", "count"), [("ace05", 33), ("casie", 5), ("rams", 139)])
def test_packaged_schema_loads(name: str, count: int) -> None:
    schema = load_event_schema(name)
    assert schema.name == name and schema.version == 1 and schema.id == f"{name}@1"
    assert len(schema.types) == count == len(set(schema.type_names))
    assert schema.source
    assert all(t.description for t in schema.types)
    assert load_event_schema(name) is schema  # cached


def test_ace05() -> None:
    ace = load_event_schema("ace05")
    assert ace.roles_of("Life.Die") == ["Agent", "Victim", "Instrument", "Place"]
    assert ace.roles_of("Conflict.Attack") == ["Attacker", "Target", "Instrument", "Place"]
    assert ace.roles_of("Movement.Transport") == ["Agent", "Artifact", "Vehicle", "Origin", "Destination"]
    assert ace.roles_of("Justice.Extradite") == ["Agent", "Person", "Destination", "Origin"]
    assert ace.roles_of("Personnel.Nominate") == ["Person", "Agent"]
    assert "Justice.Arrest-Jail" in ace.type_names
    roles = {role for t in ace.types for role in t.roles}
    assert roles == ACE_ROLES  # the 22-role setting: no Time-* roles, no Crime/Sentence/Position/Price
    for t in ace.types:  # every role is described, and the same way in every type
        assert set(t.role_descriptions) == set(t.roles)
    assert ace.describe_role("Life.Die", "Victim") == ace.describe_role("Life.Injure", "Victim") != ""


def test_casie_and_rams_content() -> None:
    casie = load_event_schema("casie")
    assert casie.type_names == [
        "Databreach",
        "DiscoverVulnerability",
        "PatchVulnerability",
        "Phishing",
        "Ransom",
    ]
    assert "Compromised-Data" in casie.roles_of("Databreach")
    assert "Trusted-Entity" in casie.roles_of("Phishing")
    assert casie.describe_role("Databreach", "Compromised-Data")
    for t in casie.types:
        assert t.roles == sorted(t.roles) and set(t.role_descriptions) == set(t.roles)

    rams = load_event_schema("rams")
    assert rams.roles_of("life.die.n/a") == ["victim", "place"]
    assert rams.roles_of("conflict.attack.stabbing") == ["attacker", "target", "instrument", "place"]
    assert rams.type("life.die.n/a").description == "life / die"
    assert rams.type("conflict.attack.stabbing").description == "conflict / attack / stabbing"
    assert rams.roles_of("contact.collaborate.meet") == ["participant", "place"]  # shared slot listed once
    assert rams.describe_role("life.die.n/a", "place") == ""


def test_lookup_errors() -> None:
    ace = load_event_schema("ace05")
    with pytest.raises(InputError, match=r"unknown event type 'Life.Dye' \(did you mean 'Life.Die'") as info:
        ace.type("Life.Dye")
    assert "available: Business.Start-Org" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(InputError, match="unknown event type"):
        ace.roles_of("Nope")
    with pytest.raises(InputError, match="has no role 'Buyer'"):
        ace.describe_role("Life.Die", "Buyer")


# --- user files ----------------------------------------------------------------------------------------


def test_user_file_full_form(tmp_path: Path) -> None:
    path = write(
        tmp_path / "mine.yaml",
        "name: mine\nversion: 3\ntypes:\n"
        "  - name: Attack\n    roles: [attacker, target]\n"
        "    role_descriptions: {attacker: who attacks}\n"
        "  - name: Rain\n    roles: []\n",
    )
    schema = load_event_schema(path)
    assert schema.id == "mine@3"
    assert schema.type_names == ["Attack", "Rain"]
    assert schema.describe_role("Attack", "attacker") == "who attacks"
    assert schema.describe_role("Attack", "target") == ""
    assert schema.roles_of("Rain") == []
    assert load_event_schema(str(path)) == schema


def test_user_file_compact_forms(tmp_path: Path) -> None:
    path = write(
        tmp_path / "compact.yml",
        "types:\n"
        "  Attack: [attacker, target, place]\n"
        "  Arrest:\n"
        "    description: someone is taken into custody\n"
        "    roles: [person, agent]\n"
        "    role_descriptions: {person: who is arrested}\n"
        "  Rain:\n",
    )
    schema = load_event_schema(path)
    # name and version default to the file stem and 1
    assert schema.name == "compact" and schema.version == 1
    assert schema.types == [
        EventType(name="Attack", roles=["attacker", "target", "place"]),
        EventType(
            name="Arrest",
            description="someone is taken into custody",
            roles=["person", "agent"],
            role_descriptions={"person": "who is arrested"},
        ),
        EventType(name="Rain", roles=[]),
    ]
    # the compact form works for the model too, and JSON files are read the same way
    json_path = write(tmp_path / "c.json", json.dumps({"name": "x", "version": 2, "types": {"A": ["r"]}}))
    assert load_event_schema(json_path).types == [EventType(name="A", roles=["r"])]
    compact = EventSchema.model_validate({"name": "y", "version": 1, "types": {"A": ["r"]}})
    assert compact.roles_of("A") == ["r"]


def test_models_are_frozen() -> None:
    schema = load_event_schema("casie")
    with pytest.raises(ValueError):
        schema.name = "other"
    with pytest.raises(ValueError):
        EventType(name="A", roles=[], extra_field=1)  # type: ignore[call-arg]


def test_unknown_schema_name() -> None:
    with pytest.raises(
        InputError, match=r"^unknown event schema 'ace2005' \(available: ace05, casie, rams\)$"
    ):
        load_event_schema("ace2005")
    with pytest.raises(InputError, match=r"nope\.yaml: no such event schema file"):
        load_event_schema("nope.yaml")


def test_bad_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.yaml", "name: x\ntypes:\n  - name: [unclosed\n")
    with pytest.raises(InputError, match=r"bad\.yaml: line \d+: not valid YAML") as info:
        load_event_schema(path)
    assert "\n" not in str(info.value)
    path = write(tmp_path / "bad.json", '{"name": "x",\n "types": [}')
    with pytest.raises(InputError, match=r"bad\.json: line 2: not valid JSON"):
        load_event_schema(path)
    path = write(tmp_path / "list.yaml", "- a\n- b\n")
    with pytest.raises(
        InputError, match=r"list\.yaml: an event schema must be a mapping of fields, not list"
    ):
        load_event_schema(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "types:\n  - {name: A, roles: [r]}\n  - {name: B, roles: []}\n  - {name: A, roles: []}\n",
            r"types\.2: event type 'A' is listed twice",
        ),
        (
            "types:\n  - name: A\n    roles: [r]\n    role_descriptions: {s: what}\n",
            r"types\.0: role_descriptions\.s: not a role of event type 'A' \(its roles: r\)",
        ),
        ("types: []\n", r"types: at least one event type is needed"),
        ("types: {}\n", r"types: at least one event type is needed"),
        ("name: x\n", r"types: Field required"),
        (
            "types:\n  - {name: A, roles: [r, r]}\n",
            r"types\.0: roles\.1: role 'r' of event type 'A' is listed twice",
        ),
        ("types:\n  - {name: A}\n", r"types\.0\.roles: Field required"),
        ("types:\n  - {name: A, roles: [], colour: red}\n", r"types\.0\.colour: Extra inputs"),
        ("types:\n  A: 3\n", r"types\.A: expected a list of roles or a mapping"),
        ("types:\n  A: {name: B, roles: []}\n", r"types\.A: the entry is named 'B'"),
    ],
)
def test_invalid_user_schema(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path / "user.yaml", text)
    with pytest.raises(InputError, match=r"user\.yaml: invalid event schema: " + expected) as info:
        load_event_schema(path)
    assert "\n" not in str(info.value)


# --- builders from raw data ----------------------------------------------------------------------------


def casie_file(folder: Path, stem: str, events: list[tuple[str, str, list[str]]]) -> None:
    """A CASIE annotation file whose content holds one trigger and one argument word per event."""
    content_parts: list[str] = []
    offset = 0
    hopper_events: list[dict[str, Any]] = []

    def span(text: str) -> dict[str, Any]:
        nonlocal offset
        start = offset
        content_parts.append(text + " ")
        offset += len(text) + 1
        return {"startOffset": start, "endOffset": start + len(text), "text": text}

    for i, (kind, subtype, roles) in enumerate(events):
        nugget = span(f"trigger{i}")
        arguments = [{**span(f"arg{i}x{j}"), "type": "X", "role": {"type": r}} for j, r in enumerate(roles)]
        hopper_events.append(
            {
                "index": f"E{i}",
                "type": kind,
                "subtype": subtype,
                "realis": "Actual",
                "nugget": nugget,
                "argument": arguments,
            }
        )
    record = {
        "sourcefile": f"{stem}.txt",
        "content": "".join(content_parts),
        "cyberevent": {"hopper": [{"index": 0, "relation": "Same", "events": hopper_events}]},
    }
    (folder / f"{stem}.json").write_text(json.dumps(record), encoding="utf-8")


def test_event_schema_from_casie(tmp_path: Path) -> None:
    folder = tmp_path / "annotation"
    folder.mkdir()
    casie_file(folder, "1", [("Attack", "Ransom", ["Victim", "Price"]), ("Attack", "Databreach", ["Tool"])])
    casie_file(folder, "2", [("Attack", "Ransom", ["Attacker", "Victim"])])
    schema = event_schema_from_casie(folder)
    assert schema.id == "casie@1" and schema.source.startswith("CASIE")
    assert schema.type_names == ["Databreach", "Ransom"]
    assert schema.roles_of("Ransom") == ["Attacker", "Price", "Victim"]
    assert schema.roles_of("Databreach") == ["Tool"]
    assert all(t.description == "" and t.role_descriptions == {} for t in schema.types)
    assert event_schema_from_casie(folder / "2.json", name="c", version=2).id == "c@2"

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "1.json").write_text(json.dumps({"content": "nothing happened"}), encoding="utf-8")
    with pytest.raises(InputError, match="holds no events"):
        event_schema_from_casie(empty)


def test_event_schema_from_rams(tmp_path: Path) -> None:
    meta = tmp_path / "meta.json"
    meta.write_text(
        json.dumps(
            [
                ["life.die.n/a", ["evt089arg01victim", "evt089arg02place", "evt089arg03killer"]],
                [
                    "contact.collaborate.meet",
                    ["evt023arg01participant", "evt023arg02participant", "evt023arg03place"],
                ],
                ["conflict.attack.stabbing", ["evt007arg01attacker", "evt007arg02target"]],
            ]
        ),
        encoding="utf-8",
    )
    schema = event_schema_from_rams(meta)
    assert schema.id == "rams@1" and schema.source.startswith("RAMS")
    assert schema.type_names == ["life.die.n/a", "contact.collaborate.meet", "conflict.attack.stabbing"]
    assert schema.roles_of("life.die.n/a") == ["victim", "place", "killer"]
    assert schema.roles_of("contact.collaborate.meet") == ["participant", "place"]
    assert schema.type("life.die.n/a").description == "life / die"
    assert schema.type("conflict.attack.stabbing").description == "conflict / attack / stabbing"

    meta.write_text("[]", encoding="utf-8")
    with pytest.raises(InputError, match="lists no event types"):
        event_schema_from_rams(meta)
    meta.write_text('[["a.b.c", "oops"]]', encoding="utf-8")
    with pytest.raises(InputError, match="entry 0"):
        event_schema_from_rams(meta)


# --- the packaged schemas agree with the real data -----------------------------------------------------


def real_data(*parts: str) -> Path:
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared benchmark data missing: {path}")
    return path


def test_packaged_casie_matches_the_data() -> None:
    built = event_schema_from_casie(real_data("casie", "annotation"))
    packaged = load_event_schema("casie")
    assert [(t.name, t.roles) for t in packaged.types] == [(t.name, t.roles) for t in built.types]
    assert packaged.source == built.source


def test_packaged_rams_matches_the_data() -> None:
    assert load_event_schema("rams") == event_schema_from_rams(real_data("rams", "meta.json"))


def test_packaged_ace05_type_names_match_the_adelie_labels() -> None:
    labels = json.loads(
        real_data("adelie_resources", "ace2005_event_label_des.json").read_text(encoding="utf-8")
    )
    subtypes = [name for name in labels if "." in name]  # the file also describes the 8 top-level types
    assert sorted(load_event_schema("ace05").type_names) == sorted(subtypes)

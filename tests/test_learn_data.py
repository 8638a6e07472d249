"""Labelled files for adapt and calibrate are read strictly: every bad line is an error naming the file and line."""

import json

import pytest

from hybrid_ner.learn.data import TrainingDataError, read_labelled
from hybrid_ner.learn.formats import Format, label_studio_config, lines
from tests.conftest import write_toy_conll

TYPES = ["person", "city", "company"]


def test_conll_with_tabs_or_spaces_docstart_and_case_insensitive_tags(tmp_path):
    path = tmp_path / "a.conll"
    path.write_text("-DOCSTART- O\n\nAna\tB-PERSON\nSouza\tI-Person\nin NNP B-city\n.\tO\n\nOslo x y B-City\n")
    data = read_labelled(path, TYPES)
    assert [s.words for s in data.sentences] == [["Ana", "Souza", "in", "."], ["Oslo"]]
    assert data.sentences[0].tags == ["B-person", "I-person", "B-city", "O"]  # canonical names, last column
    assert data.entities == 3 and data.types == ["city", "person"] and len(data.digest) == 64


def test_the_digest_is_of_the_content_not_the_path(tmp_path):
    a = write_toy_conll(tmp_path / "a.conll", 5)
    b = write_toy_conll(tmp_path / "b.conll", 5)
    c = write_toy_conll(tmp_path / "c.conll", 6)
    assert read_labelled(a, TYPES).digest == read_labelled(b, TYPES).digest != read_labelled(c, TYPES).digest


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"Ana\tB-person\n\nSouza\tI-person\n", "a.conll:3: I-person does not continue an entity of type person"),
        (b"Ana\tB-person\nOslo\tI-city\n", "a.conll:2: I-city does not continue"),
        (b"Ana\tB-person\nSouza\tB-planet\n", "a.conll:2: tag 'planet' is not a type here; types: person, city"),
        (b"Ana\tperson\n", "a.conll:1: 'person' is not a BIO tag"),
        (b"Ana\tB-person\nlonely\n", "a.conll:2: expected 'token ... tag'"),
        (b"Ana\tB-person\nS\xe3o\tB-city\n", "a.conll:2: not valid UTF-8"),
        (b"", "a.conll: no labelled sentences (the file is empty)"),
        (b"\n\n-DOCSTART- O\n", "a.conll: no labelled sentences"),
        (b"Ana\tO\nsaid\tO\n", "a.conll: no entities of the types person, city, company"),
    ],
)
def test_bad_conll_names_the_file_and_line(tmp_path, content, message):
    path = tmp_path / "a.conll"
    path.write_bytes(content)
    with pytest.raises(TrainingDataError) as err:
        read_labelled(path, TYPES)
    assert message in str(err.value) and str(path) in str(err.value)


def test_jsonl_spans_and_doccano_exports(tmp_path):
    text = "Ana Souza moved to Oslo."
    rows = [
        {
            "text": text,
            "entities": [{"start": 0, "end": 9, "label": "Person"}, {"start": 19, "end": 23, "label": "city"}],
        },
        {"text": text, "label": [[0, 9, "person"]]},  # doccano, older exports
        {"text": text, "entities": [{"start_offset": 19, "end_offset": 23, "label": "city"}]},  # doccano, newer
    ]
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    data = read_labelled(path, TYPES)
    assert [s.tags for s in data.sentences] == [
        ["B-person", "I-person", "O", "O", "B-city", "O"],
        ["B-person", "I-person", "O", "O", "O", "O"],
        ["O", "O", "O", "O", "B-city", "O"],
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            '{"text": "Ana", "entities": [{"start": 0, "end": 9, "label": "person"}]}',
            "a.jsonl:2: entity [0, 9) is outside",
        ),
        ('{"text": "Ana", "entities": [{"start": 0, "end": 3, "label": "planet"}]}', "a.jsonl:2: tag 'planet'"),
        ('{"text": "Ana", "entities": [{"start": "0", "end": 3, "label": "person"}]}', "integer start/end"),
        ('{"text": "Ana Souza", "entities": [[0, 5, "person"], [4, 9, "city"]]}', "a.jsonl:2: entities overlap"),
        ("{not json", "a.jsonl:2: invalid JSON"),
        ('{"entities": []}', 'a.jsonl:2: expected an object with a string "text"'),
    ],
)
def test_bad_jsonl_names_the_line(tmp_path, line, message):
    path = tmp_path / "a.jsonl"
    path.write_text('{"text": "Oslo", "entities": [[0, 4, "city"]]}\n' + line + "\n")
    with pytest.raises(TrainingDataError) as err:
        read_labelled(path, TYPES)
    assert message in str(err.value)


def test_label_studio_export_uses_annotations_and_skips_unlabelled_tasks(tmp_path):
    tasks = [
        {
            "data": {"text": "Ana Souza moved to Oslo."},
            "annotations": [
                {
                    "result": [
                        {"type": "labels", "value": {"start": 0, "end": 9, "text": "Ana Souza", "labels": ["person"]}},
                        {"type": "labels", "value": {"start": 19, "end": 23, "text": "Oslo", "labels": ["city"]}},
                    ]
                }
            ],
        },
        {"data": {"text": "Nobody labelled this one."}, "predictions": [{"result": []}]},
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks))
    data = read_labelled(path, TYPES)
    assert len(data.sentences) == 1 and data.sentences[0].tags == ["B-person", "I-person", "O", "O", "B-city", "O"]


def test_what_select_and_feedback_export_write_adapt_reads_back(tmp_path):
    rows = [{"id": 1, "text": "Ana Souza moved to Oslo. She joined Acme Robotics.", "entities": [
        {"start": 0, "end": 9, "label": "person"}, {"start": 19, "end": 23, "label": "city"},
        {"start": 36, "end": 49, "label": "company"}]}]  # fmt: skip
    for fmt, name in [(Format.JSONL, "a.jsonl"), (Format.CONLL, "a.conll"), (Format.LABEL_STUDIO, "a.json")]:
        path = tmp_path / name
        path.write_text("".join(lines(rows, fmt)))
        if fmt == Format.LABEL_STUDIO:  # predictions become annotations when someone accepts them
            tasks = json.loads(path.read_text())
            tasks[0]["annotations"] = tasks[0].pop("predictions")
            path.write_text(json.dumps(tasks))
        data = read_labelled(path, TYPES)
        assert data.entities == 3 and len(data.sentences) == 2, fmt
    doccano = [json.loads(line) for line in "".join(lines(rows, Format.DOCCANO)).splitlines()]
    assert doccano == [{"text": rows[0]["text"], "label": [[0, 9, "person"], [19, 23, "city"], [36, 49, "company"]],
                        "meta": {"id": 1}}]  # fmt: skip
    assert '<Label value="company"/>' in label_studio_config(TYPES)

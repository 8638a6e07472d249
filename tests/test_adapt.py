"""``adapt``, ``models``, ``extract --model``, ``calibrate`` and ``select`` as users run them: the installed CLI
on small real runs (a few dozen sentences, a few epochs). Quality is not asserted here (``eval/adapt_bench``
measures it); the contract, the artifact and the refusals are."""

import json
import os
import re
import signal
import subprocess
import time

import pytest

from hybrid_ner.ner.artifacts import atomic_dir, content_digest
from hybrid_ner.ner.model import NERConfig
from hybrid_ner.ner.seen import SEEN_FILE, SeenMentions
from tests.conftest import toy_sentences, write_toy_conll
from tests.test_cli import CLI, run_cli

pytestmark = pytest.mark.integration
TEXT = "Maria Fernandes visited Lisbon to meet engineers from Acme Robotics ."


@pytest.fixture()
def data_env(tmp_path):
    return {"HNER_DATA_DIR": str(tmp_path / "data")}


def test_adapt_prints_its_summary_and_writes_a_whole_model_dir(adapted_model):
    summary = json.loads((adapted_model.parent / "summary.json").read_text())
    assert set(summary) >= {"labels", "dev_f1", "ece", "seconds", "out"}
    assert summary["labels"] == ["person", "city", "company"]  # the schema's types, in its order
    assert 0 <= summary["dev_f1"] <= 1 and 0 <= summary["ece"] <= 1 and summary["seconds"] > 0
    assert summary["calibration"] == "dev" and summary["base"].startswith("ner-conll-minilm-l4-v2@")
    config = NERConfig.load(adapted_model)
    assert config.labels == ["O", "B-person", "I-person", "B-city", "I-city", "B-company", "I-company"]
    assert config.metrics["adapt"]["seed"] == 13 and config.metrics["adapt"]["train_sentences"] == 32
    card = (adapted_model / "README.md").read_text()
    for needle in (
        "data digest",
        config.metrics["adapt"]["data_digest"],
        "ner-conll-minilm-l4-v2@",
        "seed 13",
        " s in all",
    ):
        assert needle in card
    assert (adapted_model / "digest.txt").read_text().strip() == content_digest(adapted_model) == summary["digest"]
    assert {p.name for p in adapted_model.iterdir()} == {
        "ner_config.json", "weights.safetensors", "ner.int8.onnx", "README.md", "digest.txt", "profile.json"
    }  # fmt: skip
    profile = json.loads((adapted_model / "profile.json").read_text())  # what drift compares live input with
    assert profile["texts"] == 32 + 12 and set(profile["figures"]["entity_types"]) >= {"person", "city", "company"}
    assert not list(adapted_model.parent.glob(".toy-model.partial-*"))


def test_a_registered_adapted_model_labels_the_schemas_types_locally(adapted_model, toy_domain, data_env):
    added = run_cli("models", "add", "toy", str(adapted_model), env=data_env)
    assert added.returncode == 0, added.stderr
    entry = json.loads(added.stdout)
    assert entry["name"] == "toy" and entry["labels"] == ["city", "company", "person"]
    listed = json.loads(run_cli("models", "list", env=data_env).stdout)["models"]
    assert {m["name"]: m["state"] for m in listed} == {"ner-conll-minilm-l4-v2": "default", "toy": "registered"}
    for model in ("toy", str(adapted_model)):  # by registered name, or by directory
        proc = run_cli("extract", "--model", model, "--schema", str(toy_domain["schema"]), "--strategy", "local",
                       TEXT, env=data_env)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        entities = json.loads(proc.stdout)["entities"]
        assert {e["label"] for e in entities} == {"person", "city", "company"}
        assert all(e["source"] == "local" and 0 <= e["score"] <= 1 for e in entities)
        assert all(TEXT[e["start"] : e["end"]] == e["text"] for e in entities)
    unknown = run_cli("extract", "--model", "nope", TEXT, env=data_env)
    assert unknown.returncode == 2 and "'nope' is not a registered or shipped model" in unknown.stderr


def test_adapt_without_dev_calibrates_on_folds(toy_domain, tmp_path, data_env):
    out = tmp_path / "folds"
    proc = run_cli("adapt", "--schema", str(toy_domain["schema"]), "--train", str(toy_domain["train"]), "--out",
                   str(out), "--epochs", "1", "--folds", "2", "--threads", "1", env=data_env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["calibration"] == "2-fold" and summary["epochs"] == 1
    assert NERConfig.load(out).metrics["adapt"]["calibration"] == "2-fold"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"Ana\tB-person\n\nSouza\tI-person\n", "train.conll:3: I-person does not continue an entity"),
        (b"Ana\tB-person\nOslo\tB-planet\n", "train.conll:2: tag 'planet' is not a type here"),
        (b"", "train.conll: no labelled sentences (the file is empty)"),
        (b"Ana\tB-person\nS\xe3o\tB-city\n", "train.conll:2: not valid UTF-8"),
    ],
)
def test_bad_training_data_is_refused_and_nothing_is_written(toy_domain, tmp_path, data_env, content, message):
    train = tmp_path / "train.conll"
    train.write_bytes(content)
    out = tmp_path / "model"
    proc = run_cli("adapt", "--schema", str(toy_domain["schema"]), "--train", str(train), "--out", str(out),
                   env=data_env)  # fmt: skip
    assert proc.returncode == 2 and message in proc.stderr and proc.stderr.startswith("error: ")
    assert not out.exists() and list(tmp_path.glob(".model.*")) == []


def test_adapt_refuses_training_data_that_holds_an_evaluation_set(toy_domain, tmp_path, data_env):
    train = toy_domain["train"]
    copy = tmp_path / "copy.conll"
    copy.write_text(train.read_text())
    out = tmp_path / "model"
    base = ("adapt", "--schema", str(toy_domain["schema"]), "--train", str(train), "--out", str(out))
    as_holdout = run_cli(*base, "--holdout", str(copy), env=data_env)
    assert as_holdout.returncode == 2 and f"evaluation set {copy}" in as_holdout.stderr
    assert re.search(rf"{re.escape(str(train))}:\d+: the training data holds (\d+) of the \1 ", as_holdout.stderr)
    from hybrid_ner.config import Settings
    from hybrid_ner.pipeline import Pipeline
    from hybrid_ner.schemas import Schema

    data = tmp_path / "data"
    schema = Schema.model_validate_json(toy_domain["schema"].read_text())
    Pipeline(settings=Settings(data_dir=data)).components.eval_sets.add(schema, "gate", copy, actor="test")
    refused = run_cli(*base, env={**data_env, "HNER_DATA_DIR": str(data)})
    assert refused.returncode == 2 and "evaluation set 'gate' (registered for toy)" in refused.stderr
    assert not out.exists()


def test_an_occupied_out_dir_is_refused(toy_domain, tmp_path, data_env):
    out = tmp_path / "model"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    proc = run_cli("adapt", "--schema", str(toy_domain["schema"]), "--train", str(toy_domain["train"]), "--out",
                   str(out), env=data_env)  # fmt: skip
    assert proc.returncode == 2 and "exists and is not empty" in proc.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_adapt_leaves_no_model(toy_domain, tmp_path, sig):
    out = tmp_path / "killed"
    args = [CLI, "adapt", "--schema", str(toy_domain["schema"]), "--train", str(toy_domain["train"]),
            "--dev", str(toy_domain["dev"]), "--out", str(out), "--epochs", "50", "--threads", "1"]  # fmt: skip
    env = {**os.environ, "HNER_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".killed.partial-*")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert list(tmp_path.glob(".killed.partial-*")), "adapt never started writing"
    time.sleep(1.0)  # into training
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert not out.exists()
    leftovers = list(tmp_path.glob(".killed.partial-*"))
    assert leftovers == [] if sig == signal.SIGTERM else len(leftovers) == 1
    with atomic_dir(out) as tmp:  # the next write clears what a killed process left
        (tmp / "x").write_text("1")
    assert list(tmp_path.glob(".killed.partial-*")) == [] and (out / "x").is_file()


def test_calibrate_refits_only_the_confidence_map(adapted_model, toy_domain, tmp_path, data_env):
    sample = write_toy_conll(tmp_path / "sample.conll", 20, offset=300)
    out = tmp_path / "recalibrated"
    proc = run_cli("calibrate", "--model", str(adapted_model), "--data", str(sample), "--out", str(out),
                   "--schema", str(toy_domain["schema"]), env=data_env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert set(result) >= {"out", "digest", "ece_before", "ece_after", "entities", "temperature", "platt"}
    assert result["entities"] >= 10 and result["digest"] == content_digest(out) != content_digest(adapted_model)
    for name in ("weights.safetensors", "ner.int8.onnx"):  # same weights, same graph
        assert (out / name).read_bytes() == (adapted_model / name).read_bytes()
    config = NERConfig.load(out)
    assert config.metrics["recalibrated"]["from"] == content_digest(adapted_model)
    assert "## Recalibrated" in (out / "README.md").read_text()
    served = run_cli("extract", "--model", str(out), "--schema", str(toy_domain["schema"]), TEXT, env=data_env)
    assert served.returncode == 0 and json.loads(served.stdout)["entities"]


def test_calibrate_the_default_model_on_its_own_labels(conll_file, tmp_path, data_env):
    out = tmp_path / "default-recalibrated"
    proc = run_cli("calibrate", "--model", "ner-conll-minilm-l4", "--data", str(conll_file), "--out", str(out),
                   env=data_env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["model"].startswith("ner-conll-minilm-l4@")
    assert result["seen_mentions"] == 0 and result["platt_seen"] == [0, 0] and not (out / SEEN_FILE).exists()
    # --seen-from: the names of the data the model was trained on join the map; a later calibrate keeps them
    taught = tmp_path / "taught"
    proc = run_cli("calibrate", "--model", str(out), "--data", str(conll_file), "--out", str(taught),
                   "--seen-from", str(conll_file), env=data_env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["seen_mentions"] == 4 and (taught / SEEN_FILE).is_file()
    assert SeenMentions.load(taught).has("Atlantic Federation", "ORG")
    again = run_cli("calibrate", "--model", str(taught), "--data", str(conll_file), "--out", str(tmp_path / "again"),
                    env=data_env)  # fmt: skip
    assert again.returncode == 0 and json.loads(again.stdout)["seen_mentions"] == 4
    assert (tmp_path / "again" / SEEN_FILE).read_bytes() == (taught / SEEN_FILE).read_bytes()
    empty = tmp_path / "nothing.conll"
    empty.write_text("the\tO\ncat\tO\nsat\tB-MISC\n")
    refused = run_cli("calibrate", "--model", "ner-conll-minilm-l4", "--data", str(empty), "--out",
                      str(tmp_path / "never"), env=data_env)  # fmt: skip
    assert refused.returncode == 2 and "at least 10 are needed" in refused.stderr
    assert not (tmp_path / "never").exists()


@pytest.fixture()
def pool(tmp_path):
    path = tmp_path / "pool.jsonl"
    rows = [{"id": f"t{i}", "text": " ".join(w for w, _ in s)} for i, s in enumerate(toy_sentences(12, offset=500))]
    rows += [{"id": "plain", "text": "the weather was fine and nothing happened ."}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_select_picks_texts_with_pre_annotations(adapted_model, toy_domain, pool, tmp_path, data_env):
    base = ["select", "--input", str(pool), "--n", "3", "--model", str(adapted_model), "--schema",
            str(toy_domain["schema"])]  # fmt: skip
    picked = run_cli(*base, env=data_env)
    assert picked.returncode == 0, picked.stderr
    rows = [json.loads(line) for line in picked.stdout.splitlines()]
    assert len(rows) == 3 and "plain" not in {r["id"] for r in rows}  # nothing there to learn from
    assert all(e["label"] in {"person", "city", "company"} for r in rows for e in r["entities"])
    assert any(r["entities"] for r in rows) and 'Label value="company"' in picked.stderr
    random_a = run_cli(*base, "--by", "random", "--seed", "5", env=data_env).stdout
    assert random_a == run_cli(*base, "--by", "random", "--seed", "5", env=data_env).stdout
    diverse = [json.loads(line)["id"] for line in run_cli(*base, "--by", "diversity", env=data_env).stdout.splitlines()]
    assert len(set(diverse)) == 3
    out = tmp_path / "tasks.json"
    assert run_cli(*base, "--format", "label-studio", "--out", str(out), env=data_env).returncode == 0
    tasks = json.loads(out.read_text())
    assert len(tasks) == 3 and tasks[0]["data"]["text"] and tasks[0]["predictions"][0]["result"][0]["type"] == "labels"
    doccano = [json.loads(line) for line in run_cli(*base, "--format", "doccano", env=data_env).stdout.splitlines()]
    assert all(isinstance(d["label"], list) and d["text"] for d in doccano)


def test_select_refuses_a_bad_pool_line(tmp_path, data_env):
    path = tmp_path / "pool.jsonl"
    path.write_bytes(b'{"text": "fine"}\n{"id": 2}\n')
    proc = run_cli("select", "--input", str(path), "--n", "1", env=data_env)
    assert proc.returncode == 2 and f"{path}:2: expected an object" in proc.stderr


def test_schema_type_sources_start_new_rows_from_what_they_resemble():
    from hybrid_ner.learn.heads import type_sources
    from hybrid_ner.schemas import EntityType

    base = {"PER": "Names of people.", "ORG": "Companies and organisations.", "LOC": "Countries, cities, places."}
    types = [
        EntityType(name="politician", description="A politician or other holder of political office."),
        EntityType(name="band", description="A band or musical group."),
        EntityType(name="human", local_labels=["PER"]),
        EntityType(name="org"),
    ]
    sources = type_sources(types, base)
    assert max(sources["politician"], key=sources["politician"].get) == "PER"
    assert max(sources["band"], key=sources["band"].get) == "ORG"
    assert sources["human"] == {"PER": 1.0} and sources["org"] == {"ORG": 1.0}  # mapped, then same name
    assert all(abs(sum(w.values()) - 1) < 1e-6 for w in sources.values())


def test_adapt_from_an_adapted_base_with_every_option(adapted_model, toy_domain, tmp_path, data_env):
    out = tmp_path / "second"
    proc = run_cli("adapt", "--schema", str(toy_domain["schema"]), "--train", str(toy_domain["train"]),
                   "--dev", str(toy_domain["dev"]), "--out", str(out), "--base", str(adapted_model), "--epochs", "1",
                   "--seed", "7", "--batch-size", "8", "--lr", "1e-4", "--augment", "1", "--threads", "1",
                   env=data_env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["base"] == f"toy-model@{content_digest(adapted_model)[:12]}"
    adapted = NERConfig.load(out).metrics["adapt"]
    assert (adapted["seed"], adapted["batch_size"], adapted["lr"], adapted["augment"]) == (7, 8, 1e-4, 1)
    assert adapted["train_sentences"] == 32  # the labelled ones; the swapped copies are extra


def test_feedback_export_from_the_cli_is_training_data(tmp_path, data_env):
    from hybrid_ner.components import Components
    from hybrid_ner.config import Settings
    from hybrid_ner.feedback import Correction
    from hybrid_ner.schemas import Schema

    components = Components(Settings(data_dir=tmp_path / "data"))
    schema = Schema.model_validate({"name": "toy", "types": [{"name": "person"}, {"name": "city"}]})
    text = "Ana Souza moved to Oslo."
    correction = {"text": text, "entities": [{"start": 0, "end": 9, "label": "person"}, {"start": 19, "end": 23,
                  "label": "city"}]}  # fmt: skip
    components.feedback.add(Correction.model_validate(correction), schema, actor="test")
    out = tmp_path / "fb.conll"
    proc = run_cli("feedback", "export", "--format", "conll", "--schema", "toy", "--out", str(out), env=data_env)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().startswith("Ana\tB-person\nSouza\tI-person\n")
    jsonl = run_cli("feedback", "export", env=data_env)
    assert [json.loads(line)["text"] for line in jsonl.stdout.splitlines()] == [text]
    assert run_cli("feedback", "export", "--format", "xml", env=data_env).returncode == 2

"""Training, distillation and export end to end on a tiny file the test writes; asserts the artifact, not quality."""

import hashlib
import json

import onnx
import pytest

from hybrid_ner.config import DEFAULT_NER_MODEL_DIR
from hybrid_ner.errors import ModelArtifactError
from hybrid_ner.ner.extractor import LocalNER
from hybrid_ner.ner.model import DIGEST_FILE, WEIGHTS_FILE, NERConfig
from hybrid_ner.ner.seen import SeenMentions
from hybrid_ner.ner.static_int8 import ONNX_FILE
from tests.test_cli import run_cli

pytestmark = pytest.mark.integration
TEXT = "Maria Fernandes visited Berlin and met officials of the European Commission ."
UNLABELLED = (
    "Ada Lovelace was an English mathematician. She wrote about the Analytical Engine of Charles Babbage.\n"
    "\n"
    "The Danube flows through Vienna and Budapest on its way to the Black Sea.\n"
)


def _train(conll_file, out, *extra):
    proc = run_cli(
        "train-ner", "--train", str(conll_file), "--dev", str(conll_file), "--out", str(out),
        "--epochs", "2", "--limit", "40", "--threads", "1", *extra,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_train_ner_writes_a_loadable_model_dir(conll_file, tmp_path):
    out = tmp_path / "model"
    summary = _train(conll_file, out)
    assert len(summary["history"]) == 2
    assert (out / WEIGHTS_FILE).is_file() and "CC BY-SA" not in (out / "README.md").read_text()  # no unlabelled text
    config = NERConfig.load(out)
    assert config.labels == ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    assert config.temperature > 0 and "dev" in config.metrics and config.layers is None
    seen = SeenMentions.load(out)  # the training data's names, for the confidence map
    assert seen is not None and len(seen) == 4 and seen.has("Maria Fernandes", "PER") and len(config.platt_seen) == 2
    assert "a name labelled in\ntraining (`seen_mentions.u64`) adds" in (out / "README.md").read_text()
    model = LocalNER(out, runtime="torch")
    for e in model.extract([TEXT])[0]:
        assert TEXT[e.span.start : e.span.end] == e.span.text
    with pytest.raises(ModelArtifactError, match="export-ner"):  # the served runtime needs the exported graph
        LocalNER(out)


def test_a_distilled_student_exports_to_the_served_runtime(conll_file, tmp_path):
    shipped_model_dir = DEFAULT_NER_MODEL_DIR
    out = tmp_path / "student"
    held = _reports(tmp_path / "held.conll", range(5))  # shares no sentence with the training file
    prose = tmp_path / "prose.txt"
    prose.write_text(UNLABELLED, encoding="utf-8")
    names = tmp_path / "names.tsv"
    names.write_text("PER\tGrace Hopper\nLOC\tOslo\nORG\tAcme Corporation\n", encoding="utf-8")
    _train(
        conll_file, out, "--layers", "2", "--teacher", str(shipped_model_dir), "--noise", "0.5", "--holdout", held,
        "--unlabelled", str(prose), "--replace", "0.5", "--names", str(names),
    )  # fmt: skip
    config = NERConfig.load(out)
    assert config.layers == 2 and config.metrics["hyperparameters"]["teacher"] == shipped_model_dir.name
    hyper = config.metrics["hyperparameters"]
    assert hyper["noise"] == 0.5 and hyper["holdouts"] == ["held.conll"] and hyper["replace"] == 0.5
    # --limit 40, a noisy copy of about half of them and a name-swapped copy of about half of those with a name
    assert 50 < config.metrics["train_sentences"] < 110
    assert config.metrics["unlabelled_sentences"] == 3  # two lines, the first of two sentences
    digests = config.metrics["data"]
    assert digests["unlabelled 1"] == {"file": "prose.txt", "sha256": hashlib.sha256(prose.read_bytes()).hexdigest()}
    assert digests["holdout 1"]["file"] == "held.conll" and digests["train"]["file"] == conll_file.name
    card = (out / "README.md").read_text()
    assert digests["unlabelled 1"]["sha256"][:16] in card and "CC BY-SA" in card
    assert "with a noisy copy of 50% of them" in card and "seed 13" in card
    assert "a copy of 50% of them with names swapped for others from `names.tsv`" in card
    assert digests["names"] == {"file": "names.tsv", "sha256": hashlib.sha256(names.read_bytes()).hexdigest()}
    assert not SeenMentions.load(out).has("Grace Hopper", "PER")  # the swapped-in names are not labelled data
    torch_model = LocalNER(out, runtime="torch", quantize=False)
    assert len(torch_model.model.encoder.encoder.layer) == 2

    proc = run_cli("export-ner", "--model", str(out), "--calibration", str(conll_file), "--every", "2")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["calibration_sentences"] > 0 and (out / ONNX_FILE).is_file()
    nodes = onnx.load(str(out / ONNX_FILE)).graph.node
    ops = [node.op_type for node in nodes]
    assert "QLinearMatMul" in ops  # static int8 operators in the file (a QDQ graph has none until it is loaded)
    attention = [n for n in nodes if n.op_type == "MatMul" and "/attention/self/MatMul" in n.name]
    assert len(attention) == 2 * 2 and "IsNaN" not in ops  # each layer's two attention products stay fp32
    fp32 = {n.name for n in nodes if n.op_type == "MatMul"} - {n.name for n in attention}
    assert all(name.endswith("/outliers") for name in fp32)  # and the products over outlier channels, if any
    assert not list(out.glob(".*.tmp"))  # the graph was renamed into place
    card = (out / "README.md").read_text()
    assert card.count("## Served graph") == 1 and hashlib.sha256(conll_file.read_bytes()).hexdigest()[:16] in card
    assert f"{json.loads(proc.stdout)['words_per_s']:,} words/s" in card
    assert card.index("## Served") < card.index("## Lic")
    served = LocalNER(out)
    assert served.variant == "onnx-int8" and served.version.endswith("+onnx-int8")
    got, want = served.extract([TEXT])[0], torch_model.extract([TEXT])[0]
    assert [e.span.text for e in got] == [e.span.text for e in want]  # int8 keeps the fp32 model's entities here

    weights = out / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes() + b" ")  # the weights change: the directory no longer matches its digest
    with pytest.raises(ModelArtifactError, match="changed after it was written"):
        LocalNER(out)
    (out / DIGEST_FILE).unlink()  # and without a digest, the exported graph still knows it is stale
    with pytest.raises(ModelArtifactError, match="other weights"):
        LocalNER(out)


def _reports(path, numbers):
    """CoNLL sentences that differ by a number, written by the test."""
    tags = ["O", "O", "O", "B-PER", "I-PER", "O", "B-LOC", "O", "O"]
    rows = [zip(f"Report {n} says Ada Lovelace visited Paris today .".split(), tags, strict=True) for n in numbers]
    path.write_text("".join("".join(f"{w} {t}\n" for w, t in row) + "\n" for row in rows))
    return path


def test_train_ner_refuses_training_data_that_holds_an_evaluation_set(tmp_path):
    train = _reports(tmp_path / "train.conll", range(40))
    dev = _reports(tmp_path / "dev.conll", range(100, 110))
    test = _reports(tmp_path / "test.conll", range(30, 40))  # the last ten training sentences
    out = tmp_path / "model"
    proc = run_cli(
        "train-ner", "--train", str(train), "--dev", str(dev), "--holdout", str(test), "--out", str(out),
        "--epochs", "1", "--threads", "1",
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.startswith("error: "), proc.stderr
    assert f"{train}:301: " in proc.stderr  # sentence 31 of 9 tokens and a blank line each
    assert f"10 of the 10 sentences of the evaluation set {test}" in proc.stderr
    assert not out.exists()
    on_dev = run_cli("train-ner", "--train", str(train), "--dev", str(test), "--out", str(out), "--epochs", "1")
    assert on_dev.returncode == 2 and f"evaluation set {test}" in on_dev.stderr and not out.exists()
    prose = tmp_path / "prose.txt"  # raw text that quotes the test set, tokenized otherwise ("today." at the end)
    prose.write_text(
        "A line of prose.\n" + "".join(f"Report {n} says Ada Lovelace visited Paris today.\n" for n in range(30, 40))
    )
    clean = _reports(tmp_path / "clean.conll", range(200, 240))
    teacher = str(DEFAULT_NER_MODEL_DIR)
    args = ("--dev", str(dev), "--holdout", str(test), "--out", str(out), "--epochs", "1")
    leaked = run_cli("train-ner", "--train", str(clean), *args, "--teacher", teacher, "--unlabelled", str(prose))
    assert leaked.returncode == 2 and f"{prose}:2: " in leaked.stderr and f"evaluation set {test}" in leaked.stderr
    no_teacher = run_cli("train-ner", "--train", str(clean), *args, "--unlabelled", str(prose))
    assert no_teacher.returncode == 2 and "--teacher" in no_teacher.stderr and not out.exists()
    no_names = run_cli("train-ner", "--train", str(clean), *args, "--replace", "0.5")
    assert no_names.returncode == 2 and "--names" in no_names.stderr and not out.exists()
    names = tmp_path / "names.tsv"
    names.write_text("PER\tGrace Hopper\nOslo\n", encoding="utf-8")
    bad_names = run_cli("train-ner", "--train", str(clean), *args, "--replace", "0.5", "--names", str(names))
    assert bad_names.returncode == 2 and f"{names}:2: expected 'LABEL<TAB>name'" in bad_names.stderr
    assert not out.exists()


def test_a_second_export_replaces_the_served_graph_section_of_the_card(tmp_path):
    from hybrid_ner.ner.card import served_section, with_served_section

    calibration = tmp_path / "dev.txt"
    calibration.write_text("Paris B-LOC\n\n")
    card = "# card\n\n## Format\ntext\n\n## Licences\n- MIT\n"
    first = with_served_section(card, served_section(calibration, 1, 1000.0))
    second = with_served_section(first, served_section(calibration, 1, 2000.0))
    assert second.count("## Served graph") == 1 and "2,000 words/s" in second and "1,000 words/s" not in second
    assert second.startswith("# card\n\n## Format\ntext\n\n## Served graph") and second.endswith("## Licences\n- MIT\n")

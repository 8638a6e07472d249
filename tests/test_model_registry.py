"""Registered models on SQLite and on PostgreSQL: files stored by content digest, materialised whole on another
machine's disk, names re-pointed with an audit trail, and what is refused."""

import pytest

from hybrid_ner.components import Components
from hybrid_ner.config import Settings
from hybrid_ner.errors import ModelArtifactError
from hybrid_ner.model_registry import ModelNotFoundError, ModelStore
from hybrid_ner.ner.artifacts import content_digest
from kb import audit
from kb.meta import read_state

pytestmark = pytest.mark.integration


def test_a_model_registered_on_one_machine_is_materialised_on_another(db_url, tmp_path, adapted_model):
    here = Components(Settings(data_dir=tmp_path / "here", db_url=db_url))
    before = read_state(here.sessions).model_version
    entry = here.models.add("toy", adapted_model, actor="test")
    assert entry["digest"] == content_digest(adapted_model) and entry["card"]["seed"] == 13
    assert read_state(here.sessions).model_version == before + 1
    there = ModelStore(here.sessions, tmp_path / "there" / "models")  # another worker's disk, the same database
    ref = there.materialise("toy")
    assert ref.path.name == f"toy@{entry['digest'][:12]}" and content_digest(ref.path) == entry["digest"]
    assert there.materialise("toy").path == ref.path  # written once
    assert not list(ref.path.parent.glob(".*partial*"))
    assert here.models.add("toy", adapted_model, actor="again")["digest"] == entry["digest"]
    (latest, first) = [e for e in audit.read(here.sessions, 10, "model")][:2]
    assert (latest["action"], first["action"]) == ("update", "create") and latest["before"]["digest"] == entry["digest"]


def test_what_the_registry_refuses(db_url, tmp_path, adapted_model):
    store = Components(Settings(data_dir=tmp_path, db_url=db_url)).models
    with pytest.raises(ValueError, match="shipped model's name"):
        store.add("ner-conll-minilm-l4", adapted_model, actor="x")
    with pytest.raises(ModelNotFoundError, match="not a model directory"):
        store.add("empty", tmp_path, actor="x")
    with pytest.raises(ModelNotFoundError, match="no model named 'nope'"):
        store.materialise("nope")
    changed = tmp_path / "changed"
    changed.mkdir()
    for f in adapted_model.iterdir():
        (changed / f.name).write_bytes(f.read_bytes())
    (changed / "ner_config.json").write_text(
        (changed / "ner_config.json").read_text().replace('"seed": 13', '"seed": 14')
    )
    with pytest.raises(ModelArtifactError, match="changed after it was written"):
        store.add("changed", changed, actor="x")
    assert store.list() == []


def test_the_names_a_model_was_trained_on_travel_with_it(db_url, tmp_path, adapted_model):
    from hybrid_ner.ner.artifacts import copy_model, write_digest
    from hybrid_ner.ner.data import TaggedSentence
    from hybrid_ner.ner.extractor import LocalNER
    from hybrid_ner.ner.seen import SEEN_FILE, SeenMentions

    taught = tmp_path / "taught"
    taught.mkdir()
    copy_model(adapted_model, taught)
    SeenMentions.from_sentences([TaggedSentence(["Nina", "Simone"], ["B-artist", "I-artist"])]).save(taught)
    digest = write_digest(taught)
    assert digest != content_digest(adapted_model)  # the set decides scores, so it is part of the content
    here = Components(Settings(data_dir=tmp_path / "here", db_url=db_url))
    assert here.models.add("taught", taught, actor="test")["digest"] == digest
    ref = ModelStore(here.sessions, tmp_path / "there" / "models").materialise("taught")
    assert (ref.path / SEEN_FILE).read_bytes() == (taught / SEEN_FILE).read_bytes()
    served = LocalNER(ref.path).seen
    assert served is not None and served.has("nina simone", "artist")

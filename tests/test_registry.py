import pytest

from hybrid_ner.registry import Registry, extractors


def test_register_and_get():
    reg: Registry[int] = Registry("thing")

    @reg.register("thing.one.v1")
    def one() -> int:
        return 1

    assert reg.get("thing.one.v1")() == 1
    assert reg.names() == ["thing.one.v1"]
    with pytest.raises(ValueError, match="already registered"):
        reg.register("thing.one.v1")(one)


def test_unknown_name_lists_valid_ones():
    import hybrid_ner.ner.extractor  # noqa: F401

    with pytest.raises(KeyError, match=r"valid names: extractor\.local_ner\.v1"):
        extractors.get("extractor.nope.v9")


class NamedFake:
    """A fake for any seam: it only records what it was built with."""

    def __init__(self, *args):
        self.args = args
        self.name = "fake"
        self.nil_threshold = 0.5
        self.digest = "fake"


def test_settings_choose_the_implementation_of_each_seam(tmp_path):
    from hybrid_ner.components import Components, build_llm, build_resolver, kb_stores
    from hybrid_ner.config import Settings
    from hybrid_ner.llm.backend import llm_backends
    from kb.db import open_db
    from kb.store import SQLKBStore
    from linking.candidates import UnionCandidates, candidate_generators
    from linking.rerank import LogisticReranker, rerankers

    for registry, name in (
        (kb_stores, "kb.fake.v1"),
        (llm_backends, "llm.fake.v1"),
        (candidate_generators, "candidates.fake.v1"),
        (rerankers, "reranker.fake.v1"),
    ):
        if name not in registry.names():
            registry.register(name)(NamedFake)
    defaults = Settings(data_dir=tmp_path)
    store = SQLKBStore(open_db(defaults.database_url)[1])
    resolver = build_resolver(defaults, store)
    assert isinstance(resolver.generator, UnionCandidates) and isinstance(resolver.reranker, LogisticReranker)
    assert isinstance(Components(defaults).kb, SQLKBStore)
    assert build_llm(defaults).client.model == "openai/smollm2"  # litellm with the bundled LLM, not started yet

    chosen = Settings(
        data_dir=tmp_path,
        kb_store="kb.fake.v1",
        llm_backend="llm.fake.v1",
        candidates="candidates.fake.v1",
        reranker="reranker.fake.v1",
    )
    assert isinstance(Components(chosen).kb, NamedFake)
    assert isinstance(build_llm(chosen).client, NamedFake)
    resolver = build_resolver(chosen, store)
    assert isinstance(resolver.generator, NamedFake) and isinstance(resolver.reranker, NamedFake)
    with pytest.raises(KeyError, match=r"valid names: candidates\.alias_dense\.v2"):
        build_resolver(Settings(data_dir=tmp_path, candidates="candidates.nope.v1"), store)

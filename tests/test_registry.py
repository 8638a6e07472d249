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

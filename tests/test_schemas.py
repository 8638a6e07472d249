import json

import pytest
from pydantic import ValidationError
from sqlalchemy import inspect

from hybrid_ner.schemas import (
    EntityType,
    Schema,
    SchemaConflictError,
    SchemaError,
    SchemaStore,
    default_schema,
    load_schema_file,
)
from kb.db import open_db


@pytest.fixture()
def store(db_url):
    engine, sessions = open_db(db_url)
    yield SchemaStore(sessions)
    engine.dispose()


def product_schema(description="Commercial products."):
    return Schema.model_validate(
        {
            "name": "shop",
            "types": [
                {"name": "PERSON", "local_labels": ["PER"]},
                {
                    "name": "PRODUCT",
                    "description": description,
                    "examples": [
                        {"text": "Buy the Galaxy S23 now.", "entities": [{"start": 8, "end": 18, "label": "PRODUCT"}]}
                    ],
                    "mode": "llm",
                    "threshold": 0.6,
                },
            ],
        }
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "s", "types": [{"name": "A"}, {"name": "A"}]}, "duplicate type name 'A'"),
        ({"name": "s", "types": [{"name": ""}]}, "at least 1 character"),
        ({"name": "", "types": [{"name": "A"}]}, "at least 1 character"),
        ({"name": "s", "types": []}, "at least 1 item"),
        (
            {
                "name": "s",
                "types": [
                    {"name": "A", "examples": [{"text": "abc", "entities": [{"start": 1, "end": 9, "label": "A"}]}]}
                ],
            },
            "not inside its text",
        ),
        (
            {
                "name": "s",
                "types": [
                    {"name": "A", "examples": [{"text": "abc", "entities": [{"start": 0, "end": 1, "label": "B"}]}]}
                ],
            },
            "uses label 'B'",
        ),
        (
            {"name": "s", "types": [{"name": "A", "local_labels": ["PER"]}, {"name": "B", "local_labels": ["PER"]}]},
            "mapped to both",
        ),
        ({"name": "s", "types": [{"name": "A", "threshold": 1.5}]}, "less than or equal to 1"),
        ({"name": "s", "types": [{"name": "A", "mode": "sometimes"}]}, "'auto', 'local' or 'llm'"),
        ({"name": "s", "types": [{"name": "A"}], "extra": 1}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_schemas_are_rejected_with_a_clear_message(body, message):
    with pytest.raises(ValidationError, match=message):
        Schema.model_validate(body)


def test_default_schema_maps_conll_labels():
    s = default_schema()
    assert s.local_map() == {"PER": "PER", "ORG": "ORG", "LOC": "LOC", "MISC": "MISC"}


def test_versions_conflicts_and_old_versions(store):
    v1 = store.put(product_schema(), base_version=None, author="alice")
    assert v1.version == 1
    v2 = store.put(product_schema("Goods for sale."), base_version=1, author="bob")
    assert v2.version == 2
    with pytest.raises(SchemaConflictError, match="is at version 2, but the edit was based on 1"):
        store.put(product_schema("stale edit"), base_version=1)
    with pytest.raises(SchemaConflictError):
        store.put(product_schema("create again"), base_version=None)
    assert store.get("shop").get_type("PRODUCT").description == "Goods for sale."
    assert store.get("shop", 1).get_type("PRODUCT").description == "Commercial products."
    assert [v["version"] for v in store.versions("shop")] == [1, 2]
    assert store.versions("shop")[1]["created_by"] == "bob"
    assert store.names() == ["shop"]


def test_unknown_schema_lists_stored_ones(store):
    store.put(product_schema(), base_version=None)
    with pytest.raises(SchemaError, match="stored schemas: shop"):
        store.get("nope")
    with pytest.raises(SchemaError, match="'shop' version 9"):
        store.get("shop", 9)


def test_default_schema_is_served_until_one_is_stored(store):
    assert store.get("default").labels == ["PER", "ORG", "LOC", "MISC"]
    assert store.get("default", 1).labels == ["PER", "ORG", "LOC", "MISC"]
    mine = product_schema().model_copy(update={"name": "default"})
    store.put(mine, base_version=None)
    assert store.get("default").labels == mine.labels != ["PER", "ORG", "LOC", "MISC"]
    assert store.get("default", 1).version == 1 and store.versions("default")[0]["version"] == 1


def test_two_writers_on_one_database(db_url):
    url = db_url
    a, b = SchemaStore(open_db(url)[1]), SchemaStore(open_db(url)[1])
    a.put(product_schema(), base_version=None)
    base_a, base_b = a.latest_version("shop"), b.latest_version("shop")
    a.put(product_schema("from a"), base_version=base_a)
    with pytest.raises(SchemaConflictError):
        b.put(product_schema("from b"), base_version=base_b)
    assert b.get("shop").get_type("PRODUCT").description == "from a"


def test_migrations_create_tables_and_are_idempotent(db_url):
    url = db_url
    engine, _ = open_db(url)
    open_db(url)  # a second upgrade is a no-op
    tables = set(inspect(engine).get_table_names())
    assert {"schema_versions", "alembic_version", "kb_entities", "kb_jobs"} <= tables


def test_schema_file(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(product_schema().model_dump(mode="json")))
    assert load_schema_file(path).get_type("PRODUCT").mode == "llm"
    path.write_text("{not json")
    with pytest.raises(SchemaError, match=r"s\.json"):
        load_schema_file(path)
    with pytest.raises(SchemaError, match="no type 'X'"):
        product_schema().get_type("X")


def test_content_hash_ignores_version():
    s = product_schema()
    assert s.content_hash() == s.model_copy(update={"version": 7}).content_hash()
    assert s.content_hash() != product_schema("other").content_hash()
    assert EntityType(name="A").mode == "auto"

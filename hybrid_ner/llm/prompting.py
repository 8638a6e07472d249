"""Build chat messages from the prompt files and the schema, and the response model from the schema."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import jinja2
from pydantic import BaseModel, ConfigDict, Field, create_model

import prompts
from hybrid_ner.schemas import Schema

PROMPT_DIR = Path(prompts.__file__).resolve().parent
SYSTEM_TEMPLATE = "extract.system.j2"
USER_TEMPLATE = "extract.user.j2"
MAX_SHOTS = 6
MAX_ENTITIES = 64
MAX_MENTION_CHARS = 200


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(PROMPT_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # plain-text prompts, not HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def prompt_version(names: tuple[str, ...] = (SYSTEM_TEMPLATE, USER_TEMPLATE)) -> str:
    """Hash of the template files (the extraction ones unless ``names`` says which): part of the cache key, so
    edited prompts never hit stale answers."""
    digest = hashlib.sha256()
    for name in names:
        digest.update((PROMPT_DIR / name).read_bytes())
    return digest.hexdigest()[:12]


def _answer(example_entities: list[tuple[str, str]]) -> str:
    return json.dumps({"entities": [{"text": t, "label": lab} for t, lab in example_entities]}, ensure_ascii=False)


def build_messages(schema: Schema, text: str, labels: list[str]) -> list[dict[str, str]]:
    """System prompt, then few-shot turns from the schema's examples, then the document.

    Only the types in ``labels`` are asked for, and example answers are filtered to
    them, so a call for one escalated type does not teach the model other labels.
    """
    env = _env()
    types = [t for t in schema.types if t.name in labels]
    messages = [{"role": "system", "content": env.get_template(SYSTEM_TEMPLATE).render(types=types)}]
    user = env.get_template(USER_TEMPLATE)
    shots = 0
    for t in types:
        for ex in [*t.examples, *t.negative_examples]:
            if shots >= MAX_SHOTS:
                break
            answer = [(ex.text[e.start : e.end], e.label) for e in ex.entities if e.label in labels]
            messages.append({"role": "user", "content": user.render(text=ex.text)})
            messages.append({"role": "assistant", "content": _answer(answer)})
            shots += 1
    messages.append({"role": "user", "content": user.render(text=text)})
    return messages


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid")


@lru_cache(maxsize=256)
def response_model(labels: tuple[str, ...]) -> type[BaseModel]:
    """Pydantic model of the expected answer: labels limited to ``labels``, lists and strings bounded."""
    label_type: Any = Literal[labels]  # a Literal over runtime values; becomes a JSON-schema enum
    item = create_model(
        "Mention",
        __base__=_Base,
        text=(str, Field(min_length=1, max_length=MAX_MENTION_CHARS)),
        label=(label_type, ...),
    )
    items: Any = list[item]  # type: ignore[valid-type]
    return create_model(
        "Extraction", __base__=_Base, entities=(items, Field(default_factory=list, max_length=MAX_ENTITIES))
    )

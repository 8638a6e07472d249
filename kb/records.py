"""Entities as loaders and the admin API write them (``EntityIn``) and as the linker reads them (``EntityRecord``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, field_validator

_WIKIDATA = re.compile(r"Q\d+")
# Attribute of an entity found only by the names it has: its name, aliases and redirects, never by the keys the
# store derives from them (surname, initials, ...), and left out of the dense index. The long tail of a large KB:
# it answers to its own names without crowding the candidates of every surname or every fuzzy query.
NAME_ONLY = "name_only"
# Attribute: what the encoders and the reranker read in place of a description the entity lacks, never shown as
# its description (the bundled KB's type and fuller names of a Wikipedia title without an article).
INDEX_TEXT = "index_text"
# Attribute: the region (state, province) a place lies in, beyond what its description says, so a qualifier that
# names it ("London, Ontario") fits the place the way "Paris, Texas" fits "city in Texas, United States".
REGION = "region"
# The text attributes the linker reads, with the most characters each may have.
_TEXT_ATTRIBUTES = {INDEX_TEXT: 5000, REGION: 200}
# Id prefix → the public page of the entity, so a person reading a link can check what it points at.
_URLS = {
    "geonames:": "https://www.geonames.org/{}",
    "wikipedia:": "https://en.wikipedia.org/wiki/{}",
    # DBpedia titles are lower-cased here; Wikipedia's "go" search opens the article whatever the case.
    "dbpedia:": "https://en.wikipedia.org/w/index.php?go=Go&search={}",
}


class EntityIn(BaseModel):
    """One entity as loaders and the admin API accept it."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=200)
    name: str = Field(default="", max_length=500)
    aliases: list[str] = Field(default_factory=list, max_length=500)
    types: list[str] = Field(default_factory=list, max_length=50)
    description: str = Field(default="", max_length=5000)
    prior: float = Field(default=0.0, ge=0.0, strict=True)  # a number, never a string taken for one
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("attributes")
    @classmethod
    def _name_only_is_a_flag(cls, attributes: dict[str, Any]) -> dict[str, Any]:
        """SQL reads ``name_only`` as a boolean on every lookup: anything else ("yes", 1) is refused here, and so
        are texts the linker reads that are no bounded string."""
        if not isinstance(attributes.get(NAME_ONLY, False), bool):
            raise ValueError(f"attributes.{NAME_ONLY} must be true or false")
        for key, most in _TEXT_ATTRIBUTES.items():
            text = attributes.get(key, "")
            if not isinstance(text, str) or len(text) > most:
                raise ValueError(f"attributes.{key} must be a string of at most {most} characters")
        return attributes


@dataclass(frozen=True)
class EntityRecord:
    id: str
    name: str
    types: list[str]
    description: str
    prior: float
    aliases: list[str] = field(default_factory=list)
    redirects: int = 0  # Wikipedia redirects to the entity's title (``kb enrich``): a popularity signal
    index_text: str = ""  # ``attributes.index_text``
    region: str = ""  # ``attributes.region``
    name_only: bool = False  # ``attributes.name_only``: the KB knows the entity by its name alone

    @property
    def about(self) -> str:
        """What the encoders and the reranker read of the entity: its description, else its ``INDEX_TEXT``."""
        return self.description or self.index_text

    def text(self) -> str:
        """What the embedder sees: the name, its types and what it is about."""
        parts = [self.name or (self.aliases[0] if self.aliases else self.id)]
        if self.types:
            parts.append("(" + ", ".join(self.types[:3]) + ")")
        if self.about:
            parts.append(self.about)
        return " ".join(parts)

    @property
    def url(self) -> str | None:
        """The entity's public page, where its id says which one (GeoNames, Wikidata, Wikipedia)."""
        if _WIKIDATA.fullmatch(self.id):
            return f"https://www.wikidata.org/wiki/{self.id}"
        for prefix, template in _URLS.items():
            if self.id.startswith(prefix):
                return template.format(quote(self.id.removeprefix(prefix).replace(" ", "_"), safe="_(),'."))
        return None

"""Schemathesis hooks for ``eval.fuzz``: the bulk import's JSON-lines body, sent as generated."""

import json
from typing import Any

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: Any, value: Any) -> bytes:
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else json.dumps(value).encode()

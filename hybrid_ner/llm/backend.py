"""The LLM backend seam: one structured-output call. ``HNER_LLM_BACKEND`` names the registered implementation;
the default, ``llm.litellm.v1``, reaches any litellm provider and the bundled local LLM."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel

from hybrid_ner.config import Settings
from hybrid_ner.llm.client import CallResult, LLMClient, ResponseCache
from hybrid_ner.registry import Registry


class LLMBackend(Protocol):
    """Answers ``messages`` with an instance of ``response_model``; raises ``LLMError`` with a reason code."""

    model: str

    async def complete(
        self, messages: list[dict[str, str]], response_model: type[BaseModel], cache_key: str | None = None
    ) -> CallResult: ...


llm_backends: Registry[LLMBackend] = Registry("LLM backend")


@llm_backends.register("llm.litellm.v1")
def litellm_backend(settings: Settings) -> LLMClient:
    """litellm + instructor for ``HNER_LLM_MODEL``: the bundled local LLM (``local``), or any litellm model string."""
    common: dict[str, Any] = {
        "timeout_s": settings.llm_timeout_s,
        "retries": settings.llm_retries,
        "concurrency": settings.llm_concurrency,
        "max_tokens": settings.llm_max_tokens,
        "cache": ResponseCache(settings.data_dir / "llm_cache") if settings.llm_cache else None,
    }
    if settings.llm_model == "local":
        from hybrid_ner.llm.local_server import MODEL_ALIAS, shared_local_llm

        local = shared_local_llm(settings.threads)
        # SmolLM2 loops at temperature 0 without a repeat penalty (ENVIRONMENT.md).
        return LLMClient(
            f"openai/{MODEL_ALIAS}",
            api_key="local",
            endpoint=local.base_url,
            extra_body={"repeat_penalty": 1.15},
            **common,
        )
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return LLMClient(settings.llm_model, api_base=settings.llm_api_base, api_key=key, **common)

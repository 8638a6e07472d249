"""The REST service (FastAPI): ``create_app()``; run it with ``hybrid-ner serve``."""

from hybrid_ner.service.app import create_app

__all__ = ["create_app"]

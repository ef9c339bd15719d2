"""What the platform team lets YAML reach, read from Airflow's config once per folder load."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class LoaderOptions:
    """The ``[ml_provider]`` settings that decide whether a pipeline file is valid.

    Reading Airflow's config costs about 0.2 ms a setting; a folder of 1,000 files reads
    them once instead of once per file.
    """

    estimator_modules: tuple[str, ...]
    notifier_modules: tuple[str, ...]
    transformer_modules: tuple[str, ...]
    callables: tuple[str, ...]
    training_modules: tuple[str, ...]
    images: tuple[str, ...]
    trainer_images: tuple[str, ...]
    service_accounts: tuple[str, ...]
    secrets: tuple[str, ...]
    pod_templates: bool
    env_prefixes: tuple[str, ...]
    data_roots: tuple[Path, ...]
    parse_cache: Path | None
    """Folder of the content-hash parse cache, or None when it is off."""

    @classmethod
    def from_config(cls, **overrides: Any) -> LoaderOptions:
        """The current settings; keyword arguments replace single ones (tests, the CLI)."""
        from airflow_ml_provider import settings  # Airflow's config; settings imports spec

        current = cls(
            estimator_modules=settings.allowed_estimator_modules(),
            notifier_modules=settings.allowed_notifier_modules(),
            transformer_modules=settings.allowed_transformer_modules(),
            callables=settings.allowed_callables(),
            training_modules=settings.allowed_training_modules(),
            images=settings.allowed_images(),
            trainer_images=settings.allowed_trainer_images(),
            service_accounts=settings.allowed_service_accounts(),
            secrets=settings.allowed_secrets(),
            pod_templates=settings.allow_pod_templates(),
            env_prefixes=settings.allowed_env_prefixes(),
            data_roots=settings.allowed_data_roots(),
            parse_cache=settings.parse_cache_folder(),
        )
        return replace(current, **overrides)

    def validation_context(self) -> dict[str, tuple[str, ...] | bool]:
        """The allow-lists as the pydantic models read them from the validation context."""
        return {
            "allowed_estimator_modules": self.estimator_modules,
            "allowed_notifier_modules": self.notifier_modules,
            "allowed_transformer_modules": self.transformer_modules,
            "allowed_callables": self.callables,
            "allowed_training_modules": self.training_modules,
            "allowed_images": self.images,
            "allowed_trainer_images": self.trainer_images,
            "allowed_service_accounts": self.service_accounts,
            "allowed_secrets": self.secrets,
            "allow_pod_templates": self.pod_templates,
        }

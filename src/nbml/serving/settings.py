"""How the service is configured: environment variables, read once at start."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from nbml.errors import ConfigError

ENV_PREFIX = "NBML_"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name}={raw!r} is not an integer") from None
    if value < 0:
        raise ConfigError(f"environment variable {name}={raw!r} must not be negative")
    return value


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name}={raw!r} is not a number") from None


@dataclass(frozen=True)
class Settings:
    """What a serving process needs to know; :meth:`from_env` reads it."""

    root: Path
    host: str = "127.0.0.1"
    port: int = 8000
    # one process per core: the estimator runs one OpenMP thread in each
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    max_rows: int = 10_000
    # a row of a few dozen columns is well under 1 KiB as JSON
    max_body_bytes: int = 16 * 1024 * 1024
    # How long the batcher waits for more requests once one arrived. 0: none;
    # requests that arrive while a batch is scored still form the next batch.
    batch_wait_ms: float = 0.0
    max_batch: int = 256
    model_name: str = "nbml"

    @classmethod
    def from_env(cls, root: Path) -> Settings:
        base = cls(root)
        return cls(
            root=root,
            host=os.environ.get("HOST") or base.host,
            port=_env_int("PORT", base.port),
            workers=max(1, _env_int("WORKERS", base.workers)),
            max_rows=max(1, _env_int(f"{ENV_PREFIX}MAX_ROWS", base.max_rows)),
            max_body_bytes=max(1, _env_int(f"{ENV_PREFIX}MAX_BODY_BYTES", base.max_body_bytes)),
            batch_wait_ms=_env_float(f"{ENV_PREFIX}BATCH_WAIT_MS", base.batch_wait_ms),
            max_batch=max(1, _env_int(f"{ENV_PREFIX}MAX_BATCH", base.max_batch)),
            model_name=os.environ.get(f"{ENV_PREFIX}MODEL_NAME") or base.model_name,
        )

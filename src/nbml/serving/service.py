"""What one serving process holds: the contract (read at start) and the model (loaded once)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from nbml.errors import ServeError
from nbml.project import Project, load_yaml
from nbml.serving.answers import CategoryCheck
from nbml.serving.batching import MicroBatcher
from nbml.serving.loading import LOCK_FILE, load_recorded_model, recorded_out, test_frame
from nbml.serving.metadata import describe, request_specs
from nbml.serving.predictor import Predictor
from nbml.serving.schema import BOOLEAN, ColumnSpec, example_row, request_model, row_model
from nbml.serving.settings import Settings


@dataclass
class Service:
    """The served model's contract and, once :meth:`load` ran, the model itself."""

    settings: Settings
    project: Project
    lock: dict[str, Any]
    stage: str
    md5: str
    specs: list[ColumnSpec]
    row_model: type[BaseModel]
    request_model: type[BaseModel]
    example: dict[str, Any]
    info: dict[str, Any]
    # the used columns whose training values are listed: categories, not booleans
    category_checks: list[CategoryCheck]
    predictor: Predictor | None = None
    batcher: MicroBatcher | None = field(default=None, repr=False)

    @classmethod
    def prepare(cls, settings: Settings) -> Service:
        """Read the contract from dvc.lock and the splits; the model loads later."""
        project = Project.load(settings.root)
        lock_path = project.root / LOCK_FILE
        if not lock_path.is_file():
            raise ServeError(f"{lock_path}: not found; run `dvc repro` first to train a model")
        lock = load_yaml(lock_path) or {}
        stage, md5 = recorded_out(lock, project.path_names["model"])
        specs = request_specs(project, lock, stage)
        row = row_model(specs)
        example = example_row(specs, test_frame(project))
        request = request_model(row, settings.max_rows, example)
        info = describe(project, lock, stage, md5)
        checks = [
            (i, s.name, frozenset(s.categories))
            for i, s in enumerate(specs)
            if s.used and s.categories and s.kind != BOOLEAN
        ]
        return cls(settings, project, lock, stage, md5, specs, row, request, example, info, checks)

    def load(self) -> Predictor:
        """Load the recorded model (md5 checked), check the fast path, start the batcher."""
        served = load_recorded_model(self.project)
        columns = [s.name for s in self.specs]
        fitted = [str(c) for c in getattr(served.model, "feature_names_in_", columns)]
        if fitted != columns:
            raise ServeError(
                f"{served.rel_path} was fit on columns {fitted}, but the training split "
                f"has {columns}; run `dvc repro`"
            )
        predictor = Predictor(served.model, self.specs)
        sample = test_frame(self.project)
        if sample is not None:
            predictor.self_check(sample)
        self.predictor = predictor
        return predictor

    def start_batcher(self) -> MicroBatcher:
        if self.predictor is None:
            raise ServeError("the model is not loaded")
        s = self.settings
        self.batcher = MicroBatcher(self.predictor.predict, s.batch_wait_ms, s.max_batch)
        self.batcher.start()
        return self.batcher

    @property
    def ready(self) -> bool:
        return self.predictor is not None and self.batcher is not None

    def metadata(self) -> dict[str, Any]:
        """The /metadata answer: provenance, task, columns and classes."""
        predictor = self.predictor
        return {
            **self.info,
            "name": self.settings.model_name,
            "task": predictor.task if predictor else None,
            # the class train.estimator named (train.estimator: auto names none)
            "estimator": type(predictor.estimator).__name__ if predictor else None,
            "classes": predictor.classes if predictor else None,
            "fast_path": predictor.fast if predictor else None,
            "tree_walk": predictor.forest is not None if predictor else None,
            "features": [
                {"name": s.name, "kind": s.kind, "used": s.used, "categories": s.categories}
                for s in self.specs
            ],
        }

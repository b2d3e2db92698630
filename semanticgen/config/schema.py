"""The root config: one typed tree for every job."""
from __future__ import annotations

from dataclasses import dataclass, field

from .evaluate import EvaluateConfig
from .features import FeaturesConfig
from .generate import GenerateConfig
from .ingest import IngestConfig
from .models import ModelsConfig
from .runtime import MLflowConfig, RayConfig, RunConfig
from .train import TrainConfig


@dataclass
class Config:
    preset: str = "custom"
    run: RunConfig = field(default_factory=RunConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    mlflow: MLflowConfig = field(default_factory=MLflowConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)

"""The one configuration object, loaded from YAML and validated.

Only the CLI edge decides which file to read; everything below receives a
``Config`` instance and never looks at globals or the environment.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from jobs.config.sources import Sources
from jobs.config.yaml_loader import YamlError, load_yaml
from jobs.errors import ConfigError
from jobs.publishers import EmailSettings, LocalSettings, S3Settings

RUNBOOK_RESOURCE = "runbook.yaml"

# Upper bounds keep every product the planner forms ((1 + g) ** years times a
# quantity times a price) far inside float and Decimal range: a value beyond
# them is a typo, and validation is the place to say so, not a crash later.
MAX_QUANTITY = 1e9
MIN_QUANTITY = 1e-6
MAX_GROWTH = 10.0  # +1000 % a year
MAX_WINDOW_MINUTES = 1440  # a sustained peak is a daily figure
MAX_DAYS = 3660
MAX_SEED = 2**32 - 1

Positive = Annotated[float, Field(ge=MIN_QUANTITY, le=MAX_QUANTITY)]
NonNegative = Annotated[float, Field(ge=0, le=MAX_QUANTITY)]
Days = Annotated[int, Field(ge=1, le=MAX_DAYS)]
WindowMinutes = Annotated[int, Field(ge=0, le=MAX_WINDOW_MINUTES)]


class StrictModel(BaseModel):
    # NaN compares false with everything, so a NaN threshold would never fire.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class HostConfig(StrictModel):
    cpu_cores: Positive
    memory_gb: Positive
    storage_gb: Positive
    network_gbps: Positive = 1.0


#: A Kubernetes object name (RFC 1123 label): also safe as part of a file name.
KubernetesName = Annotated[
    str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
]


class KubernetesWorkload(StrictModel):
    """Which workload and container a service is, for ``rightsize --format kubernetes``."""

    kind: Literal["Deployment", "StatefulSet"] = "Deployment"
    name: KubernetesName | None = None  # default: the service's name
    namespace: KubernetesName = "default"
    container: KubernetesName | None = None  # default: the service's name


class ServiceConfig(StrictModel):
    cpu_cores: Positive
    memory_gb: Positive
    storage_gb: NonNegative | None = None
    replicas: Annotated[int, Field(ge=1)] = 1
    scaling: Literal["horizontal", "vertical"] = "vertical"
    description: str = ""
    kubernetes: KubernetesWorkload = KubernetesWorkload()


class MetricConfig(StrictModel):
    """How a metric behaves: its unit, range and how growth scenarios apply.

    ``growth`` is ``load`` for metrics driven by traffic (scaled by
    (1 + g) ** years), ``cumulative`` for ever-growing ones such as disk (whose
    increments are scaled) and ``none`` for metrics that do not grow with load
    in the model (latency, error rate, queue depth keep their organic forecast).
    ``percent_of`` marks absolute resource usage that is turned into a percent
    of the allocation in force, stored as ``percent_metric``.
    """

    unit: str
    growth: Literal["load", "cumulative", "none"] = "load"
    upper_bound: float | None = None
    percent_of: Literal["cpu_cores", "memory_gb", "storage_gb"] | None = None
    percent_metric: str | None = None

    @model_validator(mode="after")
    def _percent_pair(self) -> MetricConfig:
        if (self.percent_of is None) != (self.percent_metric is None):
            raise ValueError("percent_of and percent_metric must be given together")
        return self


class Trigger(StrictModel):
    above: float
    for_minutes: WindowMinutes = 0


class ThresholdPair(StrictModel):
    warning: Trigger
    critical: Trigger

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdPair:
        if self.critical.above < self.warning.above:
            raise ValueError("critical.above must not be below warning.above")
        return self


class ScaleDownTrigger(StrictModel):
    below: NonNegative
    for_minutes: WindowMinutes = 0


class GrowthAlert(StrictModel):
    increase_percent: Positive = 20.0
    window_days: Annotated[int, Field(ge=1, le=366)] = 7


class Baseline(StrictModel):
    users: Positive
    agents: Positive
    requests_per_second: Positive


class BackendFormula(StrictModel):
    rps_per_instance: Positive = 50.0
    buffer: NonNegative = 0.2


class DatabaseFormula(StrictModel):
    storage_mb_per_agent: Positive = 1.0
    memory_mb_per_agent: Positive = 2.0
    min_memory_gb: Positive = 4.0
    connections_per_agent: Positive = 0.1
    min_connections: Annotated[int, Field(ge=1, le=int(MAX_QUANTITY))] = 20
    growth_factor: Positive = 1.5


class RedisFormula(StrictModel):
    session_size_kb: Positive = 100.0
    buffer: Positive = 1.5
    min_memory_gb: Positive = 1.0


class Formulas(StrictModel):
    backend: BackendFormula = BackendFormula()
    database: DatabaseFormula = DatabaseFormula()
    redis: RedisFormula = RedisFormula()


class Costs(StrictModel):
    currency: str = "USD"
    per_core_month: Positive
    per_gb_memory_month: Positive
    per_gb_storage_month: Positive


class RightSizing(StrictModel):
    lookback_days: Days = 30
    growth_scenario: str = "moderate"
    review_days: Days = 30
    #: Limits over reservations in applied outputs: the runbook's scaling example
    #: sets limits at twice the reservations.
    limit_headroom: Annotated[float, Field(ge=1, le=100, allow_inf_nan=False)] = 2.0


class ForecastSettings(StrictModel):
    horizon_years: Annotated[int, Field(ge=1, le=10)] = 3
    min_history_days: Annotated[int, Field(ge=2, le=MAX_DAYS)] = 14
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0


class Storage(StrictModel):
    raw_retention_days: Days = 35


class Schedule(StrictModel):
    ingest: str = "*/15 * * * *"
    forecast: str = "30 1 * * *"
    monthly: str = "0 6 1 * *"
    quarterly: str = "0 7 1 1,4,7,10 *"
    annual: str = "0 8 2 1 *"
    max_catch_up: Annotated[int, Field(ge=1, le=1000)] = 12

    @field_validator("ingest", "forecast", "monthly", "quarterly", "annual")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError(f"not a valid cron expression: {value!r}")
        return value


PublishTarget = Literal["local", "s3", "email"]


class PrometheusExport(StrictModel):
    """Where ``run-due`` writes the runway metrics after each forecast."""

    textfile: Path | None = None
    pushgateway_url: Annotated[str, Field(pattern=r"^https?://[^\s/]+")] | None = None
    job: Annotated[str, Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")] = "capplan"
    timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 10.0
    max_attempts: Annotated[int, Field(ge=1, le=10)] = 3

    @model_validator(mode="after")
    def _somewhere(self) -> PrometheusExport:
        if self.textfile is None and self.pushgateway_url is None:
            raise ValueError("set textfile, pushgateway_url or both")
        return self


class PublishConfig(StrictModel):
    """Where rendered reports go. Rendered reports are always kept in ``local.directory``.

    Credentials are never part of it: S3 uses the standard AWS chain, the SMTP
    login is read from the environment variables ``email`` names.
    """

    targets: list[PublishTarget] = Field(default_factory=lambda: list[PublishTarget](["local"]))
    local: LocalSettings = LocalSettings(directory=Path("out"))
    s3: S3Settings | None = None
    email: EmailSettings | None = None
    prometheus: PrometheusExport | None = None

    @model_validator(mode="after")
    def _targets_configured(self) -> PublishConfig:
        problems: list[str] = []
        if len(set(self.targets)) != len(self.targets):
            problems.append("targets: each target may be listed once")
        for target in ("s3", "email"):
            if target in self.targets and getattr(self, target) is None:
                problems.append(
                    f"targets: {target!r} is listed but the {target} section is missing"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Calendar(StrictModel):
    monthly: list[str]
    quarterly: list[str]
    annual: list[str]


class Config(StrictModel):
    version: Literal[1] = 1
    host: HostConfig
    services: Annotated[dict[str, ServiceConfig], Field(min_length=1)]
    metrics: Annotated[dict[str, MetricConfig], Field(min_length=1)]
    thresholds: dict[str, ThresholdPair]
    scale_down: dict[str, ScaleDownTrigger] = Field(default_factory=dict)
    growth_alert: GrowthAlert = GrowthAlert()
    scenarios: Annotated[
        dict[str, Annotated[float, Field(gt=-1, le=MAX_GROWTH)]], Field(min_length=1)
    ]
    baseline: Baseline
    formulas: Formulas = Formulas()
    costs: Costs
    rightsizing: RightSizing = RightSizing()
    forecast: ForecastSettings = ForecastSettings()
    sources: Sources = Sources({})
    storage: Storage = Storage()
    schedule: Schedule = Schedule()
    publish: PublishConfig = PublishConfig()
    calendar: Calendar

    @model_validator(mode="after")
    def _cross_references(self) -> Config:
        problems: list[str] = []
        for section in ("thresholds", "scale_down"):
            for metric in getattr(self, section):
                if metric not in self.metrics:
                    problems.append(f"{section}.{metric}: unknown metric")
        for name, metric in self.metrics.items():
            if metric.percent_metric is not None and metric.percent_metric not in self.metrics:
                problems.append(f"metrics.{name}.percent_metric: unknown metric")
        if self.rightsizing.growth_scenario not in self.scenarios:
            problems.append(
                "rightsizing.growth_scenario: "
                f"{self.rightsizing.growth_scenario!r} is not one of {sorted(self.scenarios)}"
            )
        problems.extend(self.sources.metric_problems(self.metrics))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def fingerprint(self) -> str:
        """A short stable hash of the effective configuration (for report metadata)."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def stored_metric(self, metric: str) -> str:
        """The metric name a sample is stored under (absolute usage becomes percent)."""
        spec = self.metrics[metric]
        return spec.percent_metric if spec.percent_metric is not None else metric


def _format_location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def parse_config(data: Any, source: str) -> Config:
    """Validates already-parsed YAML; every problem is reported at once."""
    if not isinstance(data, Mapping):
        raise ConfigError(source, ["(top level): expected a mapping of sections"])
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = [f"{_format_location(err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise ConfigError(source, problems) from exc


def load_config(path: Path) -> Config:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read file: {exc.strerror}"]) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            str(path),
            [f"line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"],
        ) from exc
    return parse_config_text(text, str(path))


def parse_config_text(text: str, source: str) -> Config:
    try:
        data = load_yaml(text)
    except YamlError as exc:
        raise ConfigError(source, [str(exc)]) from exc
    return parse_config(data, source)


def runbook_config_text() -> str:
    return resources.files("jobs.config").joinpath(RUNBOOK_RESOURCE).read_text(encoding="utf-8")


def runbook_config() -> Config:
    """The default configuration: the capacity-planning runbook's own numbers."""
    return parse_config_text(runbook_config_text(), f"<built-in {RUNBOOK_RESOURCE}>")


def dump_config(config: Config) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)

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
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import InitErrorDetails

from jobs.config.sources import Sources
from jobs.config.yaml_loader import YamlError, load_yaml
from jobs.errors import ConfigError
from jobs.publishers import (
    REGISTRY,
    LocalSettings,
    PublisherSettings,
    UnknownPublisherError,
    registration,
)

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

#: Right-sizing sizes CPU and memory to these metrics' warning and scale-down
#: levels, read as percentages of the allocation.
RIGHTSIZED_METRICS = ("cpu_percent", "memory_percent")

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


class GrowthAlertConfig(StrictModel):
    increase_percent: Positive = 20.0
    window_days: Annotated[int, Field(ge=1, le=366)] = 7


class BaselineConfig(StrictModel):
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


def _registered(target: str) -> str:
    try:
        registration(target)
    except UnknownPublisherError as exc:
        raise ValueError(str(exc)) from exc
    return target


#: A registered publisher's name (``jobs.publishers.REGISTRY``).
PublishTarget = Annotated[str, AfterValidator(_registered)]


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

    Every other section is named for a registered publisher and validated by
    its settings model; ``settings(name)`` returns it. Credentials are never
    part of it: S3 uses the standard AWS chain, the SMTP login is read from the
    environment variables ``email`` names.
    """

    # The publisher sections are the extra keys, checked by ``_publisher_sections``.
    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    targets: list[PublishTarget] = Field(default_factory=lambda: ["local"])
    # A field of its own, with a default: reports are staged there even when it is no target.
    local: LocalSettings = LocalSettings(directory=Path("out"))
    prometheus: PrometheusExport | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _publisher_sections(
        cls, data: Any, handler: ModelWrapValidatorHandler[PublishConfig]
    ) -> PublishConfig:
        if not isinstance(data, Mapping):
            return handler(data)
        fields = {key: value for key, value in data.items() if key in cls.model_fields}
        sections: dict[str, PublisherSettings | None] = {
            name: None for name in REGISTRY if name not in cls.model_fields
        }
        problems: list[InitErrorDetails] = []
        try:
            publish = handler(fields)
        except ValidationError as exc:
            problems += _relocated(exc)
        for key, value in data.items():
            if key in cls.model_fields:
                continue
            if key not in sections:
                problems.append({"type": "extra_forbidden", "loc": (key,), "input": value})
            elif value is not None:
                try:
                    sections[key] = REGISTRY[key].settings.model_validate(value)
                except ValidationError as exc:
                    problems += _relocated(exc, key)
        if problems:
            raise ValidationError.from_exception_data(cls.__name__, problems)
        assert publish.__pydantic_extra__ is not None  # extra="allow" keeps a dict
        publish.__pydantic_extra__.update(sections)
        missing = [
            f"targets: {target!r} is listed but the {target} section is missing"
            for target in publish.targets
            if publish.settings(target) is None
        ]
        if len(set(publish.targets)) != len(publish.targets):
            missing.insert(0, "targets: each target may be listed once")
        if missing:
            raise ValueError("; ".join(missing))
        return publish

    @model_serializer(mode="wrap")
    def _prometheus_last(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Publisher sections are extras, which pydantic dumps last; ``config show``
        # keeps them beside ``local``.
        dumped: dict[str, Any] = handler(self)
        if "prometheus" in dumped:
            dumped["prometheus"] = dumped.pop("prometheus")
        return dumped

    def settings(self, name: str) -> PublisherSettings | None:
        """The section of publisher ``name``; None when the configuration has none."""
        if name == "local":
            return self.local
        section: PublisherSettings | None = (self.model_extra or {}).get(name)
        return section


def _relocated(exc: ValidationError, *prefix: str) -> list[InitErrorDetails]:
    """``exc``'s errors, placed under ``prefix``, to be raised with others at once."""
    moved: list[InitErrorDetails] = []
    for error in exc.errors():
        details: InitErrorDetails = {
            "type": error["type"],
            "loc": (*prefix, *error["loc"]),
            "input": error["input"],
        }
        if "ctx" in error:
            details["ctx"] = error["ctx"]
        moved.append(details)
    return moved


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
    growth_alert: GrowthAlertConfig = GrowthAlertConfig()
    scenarios: Annotated[
        dict[str, Annotated[float, Field(gt=-1, le=MAX_GROWTH)]], Field(min_length=1)
    ]
    baseline: BaselineConfig
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
        for metric in RIGHTSIZED_METRICS:
            problems.extend(self._sizing_level_problems(metric))
        problems.extend(self.sources.metric_problems(self.metrics))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _sizing_level_problems(self, metric: str) -> list[str]:
        warning, scale_down = self.sizing_levels(metric)
        set_here = [
            (path, level)
            for path, level, section in (
                (f"thresholds.{metric}.warning.above", warning, self.thresholds),
                (f"scale_down.{metric}.below", scale_down, self.scale_down),
            )
            if metric in section
        ]
        problems = [
            f"{path}: must be above 0 and at most 100 (right-sizing reads it as a percentage "
            f"of the allocation), got {level:g}"
            for path, level in set_here
            if not 0 < level <= 100
        ]
        if set_here and not problems and scale_down >= warning:
            problems.append(
                f"{set_here[-1][0]}: the scale-down level ({scale_down:g}) must be below the "
                f"warning level ({warning:g}; the runbook's where only one of them is set)"
            )
        return problems

    def sizing_levels(self, metric: str) -> tuple[float, float]:
        """``metric``'s warning and scale-down levels in percent (the runbook's where unset)."""
        pair = self.thresholds.get(metric)
        down = self.scale_down.get(metric)
        if pair is None or down is None:
            runbook = runbook_config()
            pair = pair or runbook.thresholds[metric]
            down = down or runbook.scale_down[metric]
        return pair.warning.above, down.below

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

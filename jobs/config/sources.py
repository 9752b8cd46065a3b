"""``sources``: one section per registered source, each validated by that source's model."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from pydantic import (
    ConfigDict,
    ModelWrapValidatorHandler,
    RootModel,
    SerializeAsAny,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from jobs.ingest.sources import REGISTRY, SourceSettings, find


def _section_errors(name: str, section: Any) -> tuple[Any, list[InitErrorDetails]]:
    """The section validated by its source's model, or its problems located under ``name``."""
    if name not in REGISTRY:
        valid = ", ".join(repr(known) for known in REGISTRY)
        problem = PydanticCustomError("unknown_source", f"unknown source; valid sources: {valid}")
        return section, [{"type": problem, "loc": (name,), "input": section}]
    model = find(name).settings_model
    if isinstance(section, model):
        return section, []
    try:
        return model.model_validate(section), []
    except ValidationError as exc:
        # Rebuilt with the message as rendered, so that the path gains the section's name.
        return section, [
            {
                "type": PydanticCustomError(error["type"], error["msg"]),
                "loc": (name, *error["loc"]),
                "input": error["input"],
            }
            for error in exc.errors()
        ]


class Sources(RootModel[dict[str, SerializeAsAny[SourceSettings]]]):
    """The configured sources by name; a section given as ``null`` is not configured."""

    model_config = ConfigDict(frozen=True)

    @model_validator(mode="wrap")
    @classmethod
    def _by_registered_model(
        cls, data: Any, handler: ModelWrapValidatorHandler[Sources]
    ) -> Sources:
        if not isinstance(data, Mapping):
            return handler(data)
        sections: dict[str, Any] = {}
        errors: list[InitErrorDetails] = []
        for name, section in data.items():
            if section is None:
                continue
            sections[name], problems = _section_errors(str(name), section)
            errors.extend(problems)
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return handler(sections)

    @model_serializer(mode="wrap")
    def _every_registered_section(self, handler: SerializerFunctionWrapHandler) -> Any:
        # An unset source shows as null, so that ``config show`` lists what can be set.
        return {**dict.fromkeys(REGISTRY), **handler(self)}

    def configured(self) -> dict[str, SourceSettings]:
        return dict(self.root)

    def get(self, name: str) -> SourceSettings | None:
        return self.root.get(name)

    def metric_problems(self, metrics: Collection[str]) -> list[str]:
        """A query for a metric the configuration does not define."""
        return [
            f"sources.{name}.{settings.metrics_field}.{metric}: unknown metric"
            for name, settings in self.root.items()
            for metric in settings.metric_queries()
            if metric not in metrics
        ]

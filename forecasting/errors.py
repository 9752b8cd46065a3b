"""Errors raised by the forecasting engine.

All derive from ``ValueError`` so callers that only care about "bad input" can
catch one type; the subclasses let the CLI print a precise message and pick an
exit code.
"""

from __future__ import annotations


class ForecastInputError(ValueError):
    """The history or the request cannot be forecast."""


class AllMissingError(ForecastInputError):
    """Every value of the history is missing (NaN) or the history is empty."""


class AsOfBeforeDataError(ForecastInputError):
    """The as-of instant is at or before the first sample: no usable history."""

    def __init__(self, as_of: object, first_sample: object) -> None:
        self.as_of = as_of
        self.first_sample = first_sample
        super().__init__(
            f"as-of {as_of} is not after the first sample ({first_sample}); "
            "only data strictly before as-of may be used"
        )


class InsufficientHistoryError(ForecastInputError):
    """Too little history to fit and validate a model."""

    def __init__(self, needed: int, have: float, unit: str, alternative: str = "") -> None:
        self.needed = needed
        self.have = have
        self.unit = unit
        either = f" (or {alternative})" if alternative else ""
        super().__init__(
            f"insufficient history: need at least {needed} {unit} of data before as-of{either}, "
            f"have {have:g}"
        )


class ConstantSeriesError(ForecastInputError):
    """The history has no variation, so no trend or noise can be estimated."""

    def __init__(self, value: float) -> None:
        self.value = value
        super().__init__(
            f"the series is constant ({value:g}) over the whole history; "
            "a growth forecast needs some variation"
        )


class IrregularSeriesError(ForecastInputError):
    """The index is not a usable time index (unparseable, duplicated, mixed)."""


class SettingsVersionError(ForecastInputError):
    """Serialised model settings come from an unknown (newer) version."""


class ModelFitError(ForecastInputError):
    """The optimiser could not fit the model to this history with any method."""

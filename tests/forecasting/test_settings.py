from __future__ import annotations

import json
from pathlib import Path

import pytest

from forecasting.errors import SettingsVersionError
from forecasting.types import SETTINGS_VERSION, ModelSettings

# Prophet fits, PDF rendering or real servers: part of `make test`, skipped by -m 'not slow'.
pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).parent / "fixtures" / "model_settings_v1.json"


def test_round_trip_through_json() -> None:
    s = ModelSettings(seasonality_mode="multiplicative", transform="logit", level_window=7)
    assert ModelSettings.from_dict(json.loads(json.dumps(s.to_dict()))) == s


def test_old_serialised_form_still_loads() -> None:
    s = ModelSettings.from_dict(json.loads(FIXTURE.read_text()))
    assert s.seasonality_mode == "multiplicative"
    assert s.changepoint_prior_scale == 0.3
    assert s.crossing_method == "mean"
    assert s.transform == "log"
    assert s.version == SETTINGS_VERSION


def test_newer_version_is_refused() -> None:
    with pytest.raises(SettingsVersionError):
        ModelSettings.from_dict({"version": SETTINGS_VERSION + 1})


def test_settings_before_range_scaling_keep_their_fit() -> None:
    old = ModelSettings().to_dict()
    old["version"] = 3
    del old["range_scaled"]
    assert ModelSettings.from_dict(old).range_scaled is False
    assert ModelSettings.from_dict(json.loads(FIXTURE.read_text())).range_scaled is False
    assert ModelSettings().range_scaled is True

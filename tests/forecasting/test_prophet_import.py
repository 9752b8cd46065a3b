"""Prophet's plotting module (and so matplotlib) is loaded only when a plot is drawn."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
import forecasting.engine
print("matplotlib" in sys.modules)
import prophet.plot
print(prophet.plot.add_changepoints_to_plot.__module__, "matplotlib" in sys.modules)
"""


def test_the_engine_imports_without_matplotlib_and_plots_still_load() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "prophet._plot", "True"]

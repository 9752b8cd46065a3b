"""Prophet, imported without loading its plotting module until a plot is asked for.

``prophet.forecaster`` imports ``prophet.plot`` for ``Prophet.plot()`` and
``plot_components()``, and that module imports matplotlib.pyplot: about 40 %
of Prophet's import time, paid by every forecast process although capplan
never plots through Prophet. A stand-in ``prophet.plot`` is registered
first; it loads the real module on first use, so plotting still works.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from functools import cache
from pathlib import Path
from typing import Any

PLOT = "prophet.plot"


@cache
def _real_plot_module() -> types.ModuleType:
    spec = importlib.util.find_spec("prophet")
    assert spec is not None and spec.origin is not None, "prophet is not installed"
    path = Path(spec.origin).with_name("plot.py")
    real = importlib.util.spec_from_file_location("prophet._plot", path)
    assert real is not None and real.loader is not None
    module = importlib.util.module_from_spec(real)
    real.loader.exec_module(module)
    return module


def _lazy(name: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(_real_plot_module(), name)(*args, **kwargs)

    call.__name__ = name
    return call


def _module_getattr(name: str) -> Any:
    if name.startswith("__"):  # the import system probes for __path__ and the like
        raise AttributeError(name)
    return getattr(_real_plot_module(), name)


def install_lazy_plot() -> None:
    """Imports Prophet with plots loaded on first use; no-op once Prophet is imported."""
    if PLOT in sys.modules or "prophet.forecaster" in sys.modules:
        return
    stand_in = types.ModuleType(PLOT, __doc__)
    for name in ("plot", "plot_components"):  # what prophet.forecaster imports
        setattr(stand_in, name, _lazy(name))
    setattr(stand_in, "__getattr__", _module_getattr)  # everything else, on demand  # noqa: B010
    sys.modules[PLOT] = stand_in
    import prophet

    prophet.plot = stand_in  # what the import system sets for a submodule it loads

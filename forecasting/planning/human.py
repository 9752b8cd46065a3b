"""Numbers as a person reads them in a sentence: "493 agents", "0.74 GB"."""

from __future__ import annotations

import math


def human_number(value: float) -> str:
    """Whole numbers from 100 up, one decimal from 10, else two; no trailing zeros.

    Machine outputs (JSON, CSV) keep full precision; this is for reasons,
    tables, reports and email.
    """
    if not math.isfinite(value):
        return str(value)
    magnitude = abs(value)
    digits = 0 if magnitude >= 100 else 1 if magnitude >= 10 else 2
    text = f"{value:,.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text

"""Labels written into CSV and XLSX exports are never read as formulas.

A spreadsheet treats a cell starting with ``=``, ``+``, ``-`` or ``@`` (and,
in some, a tab or carriage return) as a formula, so a service named
``=HYPERLINK(...)`` would run when finance opens the export. OWASP's CSV
injection guidance: prefix such a text cell with a single quote. Numbers are
formatted by the exporters themselves and are never passed through here, so a
negative amount stays a number.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(text: str) -> bool:
    return text.startswith(FORMULA_STARTS)


def csv_text(text: str) -> str:
    """``text`` for a CSV cell: prefixed with ``'`` when a spreadsheet would evaluate it."""
    return "'" + text if is_formula_like(text) else text

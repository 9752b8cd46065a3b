"""The short summary that goes with a report (email body, notification text)."""

from __future__ import annotations

import jinja2

from jobs.reports.model import ReportContext

KIND_NAMES = {"monthly": "Monthly", "quarterly": "Quarterly", "annual": "Annual"}


def _counts(context: ReportContext) -> dict[str, int]:
    counts = {"red": 0, "amber": 0, "green": 0}
    for _, cells in context.lights.rows:
        for cell in cells:
            if cell is not None:
                counts[cell.light] += 1
    return counts


def summary_text(context: ReportContext) -> str:
    counts = _counts(context)
    lines = [
        f"{KIND_NAMES[context.kind]} capacity review {context.period.label} ({context.title})",
        "",
        f"Runway under the {context.planning_scenario} scenario: {counts['red']} red "
        f"(under 90 days), {counts['amber']} amber (under 180 days), {counts['green']} green.",
        f"Growth alerts: {len(context.alerts)}.",
        "",
        *(f"{line}\n" for line in context.caveats),
    ]
    if context.actions:
        lines.append("Act on these first:")
        for number, action in enumerate(context.actions, 1):
            lines.append(f"{number}. {action.title}: {action.detail}")
    else:
        lines.append(_nothing(context))
    return "\n".join(lines) + "\n"


def _nothing(context: ReportContext) -> str:
    if context.unforecast:
        return (
            "No action found among the series that could be forecast, but "
            f"{context.unforecast} could not be: this is not an all-clear."
        )
    return "Nothing needs action this period."


_HTML = jinja2.Environment(autoescape=True).from_string(
    """<p><strong>{{ kind }} capacity review {{ c.period.label }}</strong> ({{ c.title }})</p>
<p>Runway under the {{ c.planning_scenario }} scenario: {{ n.red }} red (under 90 days),
{{ n.amber }} amber (under 180 days), {{ n.green }} green. Growth alerts: {{ c.alerts|length }}.</p>
{% for line in c.caveats %}<p><strong>{{ line }}</strong></p>
{% endfor %}{% if c.actions %}<p>Act on these first:</p>
<ol>{% for a in c.actions %}<li><strong>{{ a.title }}</strong>: {{ a.detail }}</li>{% endfor %}</ol>
{% else %}<p>{{ nothing }}</p>{% endif %}
"""
)


def summary_html(context: ReportContext) -> str:
    return _HTML.render(
        c=context, n=_counts(context), kind=KIND_NAMES[context.kind], nothing=_nothing(context)
    )

"""Planning: the runbook's capacity formulas, growth, costs and budget (pure)."""

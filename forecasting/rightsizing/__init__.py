"""Right-sizing: sizing rules, VPA/KRR anchors and usage statistics (pure)."""

"""Self-growth: extraction, redaction, dedup/merge, auto-promotion."""

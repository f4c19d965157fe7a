"""Import and export formats: JSON and Agent Skills (SKILL.md) folders."""

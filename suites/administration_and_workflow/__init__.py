"""MedHELM category: administration and workflow."""

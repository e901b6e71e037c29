"""MedHELM category: patient communication."""

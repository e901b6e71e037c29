"""MedHELM category: clinical decision support."""

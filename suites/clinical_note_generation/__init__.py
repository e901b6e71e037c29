"""MedHELM category: clinical note generation."""

"""MedHELM category: medical research."""

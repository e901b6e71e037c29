"""The leaderboard: MedHELM's aggregates with their uncertainty, and the files that show them.

``stats`` (bootstrap intervals, paired tests) and ``winrate`` (spec 4.2) are plain functions over
score sequences, usable on their own; the rest turns a run's instance rows into the leaderboard
and writes it out.
"""

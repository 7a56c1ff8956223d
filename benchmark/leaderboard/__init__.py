"""Leaderboard entries: one JSON per run, with a versioned schema."""

from __future__ import annotations

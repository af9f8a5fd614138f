"""Candidates, the currency between stages, and the stages that produce and combine them."""

from .candidates import Candidates, SourceScores, top_k

__all__ = ["Candidates", "SourceScores", "top_k"]

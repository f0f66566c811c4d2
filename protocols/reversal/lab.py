"""The reversal task's trials in hBayesDM's ``prl`` (probabilistic reversal) layout."""
from __future__ import annotations

from ..matching.lab import two_choice_hbayesdm


def hbayesdm(trials: dict):
    """subjID, trial, choice, outcome 1 = reward, −1 none (each episode a subject)."""
    return two_choice_hbayesdm(trials, "prl")

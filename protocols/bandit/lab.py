"""The bandit's trials in hBayesDM's ``bandit2arm`` layout (two arms)."""
from __future__ import annotations

from ..matching.lab import two_choice_hbayesdm


def hbayesdm(trials: dict):
    """subjID, trial, choice 1/2, outcome 1 = reward, −1 none (each episode a subject)."""
    return two_choice_hbayesdm(trials, "bandit2arm")

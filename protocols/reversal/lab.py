"""The reversal task's trials in hBayesDM's ``prl`` (probabilistic reversal) layout."""
from __future__ import annotations

import numpy as np

from ..matching.lab import two_choice_hbayesdm


def hbayesdm(trials: dict):
    """subjID, trial, choice 1 left / 2 right (the response-step action: 1 left, 2 right in the
    trials table), outcome 1 = reward, −1 none; each episode a subject, invalid trials left out."""
    tr = dict(trials)
    tr["choice"] = np.asarray(tr["choice"]).astype(np.int16) - 1
    return two_choice_hbayesdm(tr, "prl")

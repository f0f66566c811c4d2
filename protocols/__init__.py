"""Experiments: one module per protocol, each with a task card, its analyses and references.

The registry below is static (no imports), so that listing protocols is instant.
"""
from __future__ import annotations

import importlib

#: name → (module, task class, citation, one-line description)
REGISTRY = {
    "bandit": ("protocols.bandit", "BanditTask",
               "Wang et al. 2018 Fig. 1; Wang et al. 2016 (LTRL)",
               "Bernoulli K-armed bandit, 100 trials; arm probabilities drawn per episode "
               "(independent or correlated)"),
    "matching": ("protocols.matching", "MatchingTask",
                 "Wang et al. 2018 Sim 1 (Fig. 2); Tsutsui et al. 2016; Lau & Glimcher 2005",
                 "baited two-armed foraging with fixation; matching law, reward/choice history, "
                 "unit coding"),
    "volatility": ("protocols.volatility", "VolatilityTask",
                   "Wang et al. 2018 Sim 2 (Fig. 3); Behrens et al. 2007",
                   "two options, cued magnitudes, switching volatility; learning rate adapts"),
    "reversal": ("protocols.reversal", "ReversalTask",
                 "Wang et al. 2018 Sim 3 (Fig. 4); Bromberg-Martin et al. 2010",
                 "forced-choice cue task with uncued reversals; RPEs reflect inferred value"),
    "twostep": ("protocols.twostep", "TwoStepTask",
                "Wang et al. 2018 Sim 4 (Fig. 5); Miller et al. 2017; Daw et al. 2011",
                "two-step task (variants miller, daw): model-based choices and RPEs"),
    "harlow": ("protocols.harlow", "HarlowTask", "Wang et al. 2018 Sim 5 (Fig. 6); Harlow 1949",
               "learning-set task: two novel objects per episode, one always rewarded; "
               "held-out objects at test"),
    "stopper": ("protocols.stopper", "StopperTask", "Wang et al. 2018 Sim 6 (Fig. 7); Stopper et al. 2014",
                "safe vs risky lever (actor-critic circuit): DA stimulation and blockade at test "
                "shift choices with weights frozen"),
}


#: protocol → the shipped checkpoint that `pfcda run PROTOCOL` uses by default
DEFAULT_CHECKPOINTS = {"bandit": "bandit_independent", "matching": "matching",
                       "volatility": "volatility", "reversal": "reversal", "twostep": "twostep_miller",
                       "harlow": "harlow", "stopper": "stopper"}


def names() -> list[str]:
    return list(REGISTRY)


def get_task_class(name: str):
    """The task class of protocol ``name``."""
    if name not in REGISTRY:
        raise ValueError(f"protocol: unknown {name!r}; expected one of {names()}")
    module, cls, _, _ = REGISTRY[name]
    return getattr(importlib.import_module(module), cls)


def make_task(name: str, **kwargs):
    """Build protocol ``name``'s task with keyword arguments (see its task card)."""
    cls = get_task_class(name)
    try:
        return cls(**kwargs)
    except TypeError as e:  # unknown keyword: say which are known
        import inspect

        known = [p for p in inspect.signature(cls).parameters]
        raise ValueError(f"task options for {name!r}: {e}; expected some of {known}") from None

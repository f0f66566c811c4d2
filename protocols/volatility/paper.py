"""What ``pfcda reproduce`` reads off the volatility circuit: Wang et al. 2018 Sim 2, Fig. 3 (the
learning rate adapts to volatility on Behrens et al. 2007's schedule)."""
from ..paper import Claim, Paper, PaperRun
from .task import REFERENCE as R

PAPER = Paper(
    runs=(PaperRun("behrens", 400, task={"schedule": "behrens"}),),
    claims=(
        Claim("Fig. 3c,d", "stable-first episodes: learning rate in the stable block", "behrens", "lr_stable_1",
              ("<", "lr_volatile_2"), R["lr_stable"]["paper"], R["lr_stable"]["lab"], source=R["lr_stable"]["source"]),
        Claim("Fig. 3c,d", "stable-first episodes: learning rate in the volatile block", "behrens", "lr_volatile_2",
              (">", "lr_stable_1"), R["lr_volatile"]["paper"], R["lr_volatile"]["lab"], source=R["lr_volatile"]["source"]),
        Claim("Fig. 3c,d", "volatile / stable learning rate ≥ 1.5 (stable block first)", "behrens",
              "lr_ratio_stable_first", (">=", 1.5), R["lr_ratio_stable_first"]["paper"],
              R["lr_ratio_stable_first"]["lab"], source=R["lr_ratio_stable_first"]["source"]),
        Claim("Fig. 3c,d", "volatile / stable learning rate ≥ 1.5 (volatile block first)", "behrens",
              "lr_ratio_volatile_first", (">=", 1.5), R["lr_ratio_volatile_first"]["paper"],
              R["lr_ratio_volatile_first"]["lab"], source=R["lr_ratio_volatile_first"]["source"]),
        Claim("Sim 2", "volatility is decodable from the units (r with the Bayesian estimate ≥ 0.5)", "behrens",
              "decoded_volatility_r", (">=", 0.5), source="Wang et al. 2018 Sim 2"),
    ))

"""Circuit vs lab: the protocol's analyses on a recording and on lab data, side by side, with
bootstrap confidence intervals (resampling episodes of the circuit and sessions of the lab).

``pfcda compare twostep --model run.h5 --lab rats`` (stay probabilities, Miller GLM);
``pfcda compare matching --model run.h5 --lab mice`` (choice-history kernel, Bari/Lau &
Glimcher style).
"""
from __future__ import annotations

import numpy as np

PROTOCOLS = ("twostep", "matching")


def _stats_twostep(tr: dict) -> dict:
    from protocols.twostep import STAY_NAMES, miller_glm, stay_probabilities

    out = {f"stay_{STAY_NAMES[k]}": v["value"] for k, v in stay_probabilities(tr).items()}
    g = miller_glm(tr)
    for t in ("CR", "CU", "UR", "UU"):
        out[f"glm_{t}_lag1"] = g["coef"][f"{t}_lag1"][0]
    out["glm_mb_index"], out["glm_mf_index"] = g["mb_index"], g["mf_index"]
    return out


def _stats_matching(tr: dict) -> dict:
    from protocols.matching import choice_history_kernel

    k = choice_history_kernel(tr)
    out = {f"kernel_rewarded_lag{i + 1}": b for i, (b, _) in enumerate(k["rewarded"])}
    out.update({f"kernel_unrewarded_lag{i + 1}": b for i, (b, _) in enumerate(k["unrewarded"])})
    return out


STATS = {"twostep": _stats_twostep, "matching": _stats_matching}


def _resample(tr: dict, rng) -> dict:
    """A bootstrap sample of whole episodes (sessions), renumbered."""
    ep = np.asarray(tr["episode"])
    eps = np.unique(ep)
    pick = rng.choice(eps, size=len(eps), replace=True)
    rows = [np.flatnonzero(ep == e) for e in pick]
    idx = np.concatenate(rows)
    new_ep = np.repeat(np.arange(len(pick)), [len(r) for r in rows])
    out = {k: np.asarray(v)[idx] for k, v in tr.items() if not k.startswith("_")}
    out["episode"] = new_ep
    return out


def with_ci(tr: dict, fn, n_boot: int = 100, seed: int = 0, level: float = 0.95) -> dict:
    """``fn(tr)`` and percentile bootstrap intervals over episodes: {stat: {value, ci}}."""
    rng = np.random.default_rng(seed)
    point = fn(tr)
    boots = {k: [] for k in point}
    for _ in range(n_boot):
        try:
            s = fn(_resample(tr, rng))
        except Exception:  # noqa: BLE001 - a degenerate resample (e.g. separation): skip it
            continue
        for k in boots:
            boots[k].append(s.get(k, np.nan))
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    return {k: {"value": float(point[k]),
                "ci": [float(np.nanpercentile(boots[k], lo)), float(np.nanpercentile(boots[k], hi))]
                if boots[k] else [None, None], "n_boot_ok": len(boots[k])} for k in point}


def compare(protocol: str, model_trials: dict, lab_trials: dict, n_boot: int = 100,
            seed: int = 0) -> dict:
    if protocol not in STATS:
        raise ValueError(f"protocol: compare supports {list(STATS)}, got {protocol!r}")
    fn = STATS[protocol]
    lab = {k: v for k, v in lab_trials.items() if not k.startswith("_")}
    return {"protocol": protocol, "n_boot": n_boot,
            "model": with_ci(model_trials, fn, n_boot, seed),
            "lab": with_ci(lab, fn, n_boot, seed + 1),
            "lab_excluded": lab_trials.get("_excluded", {}),
            "n_episodes": {"model": int(len(np.unique(model_trials["episode"]))),
                           "lab": int(len(np.unique(lab["episode"])))}}


def figure(result: dict, outdir: str) -> list[str]:
    """Circuit and animals overlaid: stay-probability bars (two-step) or history kernels."""
    from protocols.plotting import save, subplots

    fig, ax = subplots(figsize=(5, 3.2))
    keys = list(result["model"])
    if result["protocol"] == "twostep":
        keys = [k for k in keys if k.startswith("stay_")]
        x = np.arange(len(keys))
        for j, (who, col) in enumerate((("model", "k"), ("lab", "tab:orange"))):
            v = [result[who][k]["value"] for k in keys]
            ci = np.array([result[who][k]["ci"] for k in keys], dtype=float)
            ax.bar(x + 0.38 * j, v, 0.36, color=col, alpha=0.8, label="circuit" if who == "model" else "lab",
                   yerr=[np.array(v) - ci[:, 0], ci[:, 1] - np.array(v)])
        ax.set_xticks(x + 0.19, [k[5:].replace("_", "\n") for k in keys], fontsize=7)
        ax.set_ylabel("stay probability")
        ax.set_ylim(0, 1)
    else:
        for who, col in (("model", "k"), ("lab", "tab:orange")):
            for kind, ls in (("rewarded", "-"), ("unrewarded", "--")):
                ks = [k for k in keys if k.startswith(f"kernel_{kind}_")]
                v = [result[who][k]["value"] for k in ks]
                ci = np.array([result[who][k]["ci"] for k in ks], dtype=float)
                lags = np.arange(1, len(ks) + 1)
                ax.plot(lags, v, ls, marker="o", color=col,
                        label=f"{'circuit' if who == 'model' else 'lab'}, {kind}")
                ax.fill_between(lags, ci[:, 0], ci[:, 1], color=col, alpha=0.15)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlabel("trials back")
        ax.set_ylabel("weight on P(right)")
    ax.legend(frameon=False, fontsize=7)
    return save(fig, outdir, f"compare_{result['protocol']}")

"""``pfcda benchmark``: cognitive models scored on held-out animal choices under a frozen split.

The split contract. For each data set a manifest fixes which sessions every model may fit and
which it is scored on, by a rule stated in the manifest:

* a subject with several sessions: its sessions in recorded order, the even-numbered ones
  (1st, 3rd, …) fit, the others are held out;
* a subject with one session: the first half of its trials fits; the whole session is replayed
  to score the second half (the first half sets the model's state: values, last choice, the
  circuit's activity).

The manifest holds the data file's SHA-256, the subjects, sessions and rule, and the SHA-256 of
the split lists; the bundled sets' manifests are frozen in ``protocols/labdata/data/splits`` and
a benchmark refuses data whose checksum differs from its manifest's.

Every model is fitted per subject on the fitting part only and scored on the held-out part. The
score is the normalised likelihood per scored choice, NL = exp(mean log-likelihood), pooled
over subjects and per subject (0.5 = chance for two options). Each model's difference to the
best classic model carries a paired bootstrap CI over blocks of consecutive held-out choices
(all models score the same choices, so the resampling is paired).

Models:

* ``rats`` (two-step, Miller et al. 2017/2022): ``model_free`` (SARSA(λ) with perseveration,
  w = 0), ``model_based`` (w = 1), ``hybrid`` (Daw et al. 2011's w fitted), all of
  :func:`pfcda.protocols.twostep.agents.fit_hybrid_ragged`, with the rats' task's p_common.
* ``mice`` (dynamic foraging, Allen Institute): ``rw`` (Q-learning with perseveration and side
  bias), ``rw_forget`` (+ forgetting of the unchosen value, Ito & Doya 2009's F-Q) and
  ``common_q`` (forgetting, a choice kernel and a bias), of :mod:`pfcda.protocols.choice_models`.
* both: ``gru`` and ``tiny_gru`` — recurrent networks fitted to the choices (population models
  with a subject embedding, early stopping and hidden size on a validation part of the fitting
  sessions, :mod:`.rnn_fit`), and ``gru_shuffled``, the GRU's history-free control (each
  session's inputs permuted); ``sticky``, the readout alone (perseveration and bias); the
  frozen circuits with only a readout fitted (inverse temperature, perseveration weight on the
  animal's previous response, bias): ``circuit``, trained on the paper's task
  (``twostep_miller``; ``matching``, the baited task), and ``circuit_labtask``, trained on the
  lab's own task distribution (``twostep_rats``: ``pfcda train twostep --variant rats``;
  ``matching_mice``: ``pfcda train matching --variant mice``; the statistics on each task card).

"Best classic" is the best of the dataset's classic models; the recurrent networks, the
controls and the circuits are compared with it.
"""
from __future__ import annotations

import hashlib
import json
import os
from importlib import resources

import numpy as np
from scipy.optimize import minimize

from pfcda.errors import ConfigError, LabDataError

from ..io.codec import file_hash

#: dataset → its protocol, the circuits scored on it (model name → shipped checkpoint), its
#: classic models and the recurrent networks fitted to its choices
DATASETS = {
    "rats": {"protocol": "twostep", "circuits": {"circuit": "twostep_miller", "circuit_labtask": "twostep_rats"},
             "classic": ("model_free", "model_based", "hybrid"), "kind": "twostep",
             "task": {"variant": "miller"}},  # the rats' task: its p_common for the classic models
    "mice": {"protocol": "matching", "circuits": {"circuit": "matching", "circuit_labtask": "matching_mice"},
             "classic": ("rw", "rw_forget", "common_q"), "kind": "choice"},
}
RNNS = ("gru", "tiny_gru", "gru_shuffled")
CONTROLS = ("sticky",)  # the readout alone: perseveration and bias, no circuit
RULE = ("per subject, sessions in recorded order: the 1st, 3rd, … fit and the 2nd, 4th, … are held "
        "out; a subject with one session: the first half of its trials fits, and the whole session "
        "is replayed to score the second half")
BLOCK = 50  # held-out choices per bootstrap block


def _dataset(name: str) -> dict:
    if name not in DATASETS:
        raise ConfigError(f"dataset: expected one of {sorted(DATASETS)}, got {name!r}")
    return DATASETS[name]


def manifest_path(name: str) -> str:
    return str(resources.files("pfcda.protocols.labdata") / "data" / "splits" / f"{name}.json")


def make_manifest(name: str, trials: dict, data_path: str) -> dict:
    """The split manifest of a trials table (the rule above), with its checksums."""
    ep, subj = np.asarray(trials["episode"]), np.asarray(trials["subject"]).astype(str)
    session = np.asarray(trials.get("session", ep)).astype(str)
    subjects = {}
    for sj in dict.fromkeys(subj):  # in recorded order
        eps = list(dict.fromkeys(ep[subj == sj]))
        names = [str(session[ep == e][0]) for e in eps]
        if len(eps) == 1:
            n = int((ep == eps[0]).sum())
            subjects[str(sj)] = {"fit": names, "held_out": names, "half": n // 2, "trials": n}
        else:
            subjects[str(sj)] = {"fit": names[0::2], "held_out": names[1::2]}
    lists = json.dumps(subjects, sort_keys=True).encode()
    return {"dataset": name, "data_file": os.path.basename(data_path), "data_sha256": file_hash(data_path),
            "rule": RULE, "subjects": subjects, "splits_sha256": hashlib.sha256(lists).hexdigest()}


def frozen_manifest(name: str) -> dict:
    path = manifest_path(name)
    with open(path) as f:
        return json.load(f)


def split(trials: dict, manifest: dict) -> tuple[dict, dict]:
    """(fitting table, held-out table) of ``trials`` under ``manifest``; the held-out table has a
    ``score`` column (False on the replayed first half of a one-session subject)."""
    ep, subj = np.asarray(trials["episode"]), np.asarray(trials["subject"]).astype(str)
    session = np.asarray(trials.get("session", ep)).astype(str)
    fit, held, score = (np.zeros(len(ep), bool) for _ in range(3))
    for sj, s in manifest["subjects"].items():
        mine = subj == sj
        if not mine.any():
            raise LabDataError(f"split: subject {sj!r} of the manifest is not in the data")
        if "half" in s:
            pos = np.cumsum(mine) - 1
            fit |= mine & (pos < s["half"])
            held |= mine
            score |= mine & (pos >= s["half"])
        else:
            fit |= mine & np.isin(session, s["fit"])
            held |= mine & np.isin(session, s["held_out"])
            score |= mine & np.isin(session, s["held_out"])
    if (fit & held & score).any():
        raise LabDataError("split: a scored trial is also a fitting trial")
    cols = {k: np.asarray(v) for k, v in trials.items() if not k.startswith("_")}
    train = {k: v[fit] for k, v in cols.items()}
    test = {k: v[held] for k, v in cols.items()}
    test["score"] = score[held]
    return train, test


# ------------------------------------------------------------------------------------- models
def _positions(table):
    from pfcda.protocols.base import episode_positions

    return episode_positions(np.asarray(table["episode"]))


def _score_mask(table, scored):
    """The model's own scored choices [E, T], restricted to the table's ``score`` column."""
    if "score" not in table:
        return scored
    idx, pos, E, T = _positions(table)
    extra = np.zeros((E, T), bool)
    extra[idx, pos] = table["score"]
    return scored & extra


def _classic_twostep(model: str, train: dict, test: dict, p_common: float, seed: int):
    from pfcda.protocols.twostep.agents import _hybrid, fit_hybrid_ragged, padded

    w = {"model_free": 0.0, "model_based": 1.0, "hybrid": None}[model]
    f = fit_hybrid_ragged(train, p_common, seed=seed, w=w)
    p = f["params"]
    x = [p["alpha1"], p["alpha2"], p["lam"], p["beta1"], 0.0, p["persev"], p["w"]]
    c, s, o, r, live, scored = padded(test)
    trace = np.zeros(c.shape)
    _hybrid(x, c, s, o, r, p_common, live=live, scored=scored, trace=trace)
    return trace + np.log(2.0), _score_mask(test, scored), {k: v for k, v in p.items() if k != "beta2"}


def _classic_choice(model: str, train: dict, test: dict, seed: int):
    from pfcda.protocols import choice_models as cm

    f = cm.fit(train, model, starts=3, seed=seed)
    c, r, scored = cm.padded(test)
    trace = np.zeros(c.shape)
    cm._run(f["params"], c, r, trace=trace)
    return trace, _score_mask(test, scored), {k: f["params"][k] for k in cm.MODELS[model]}


def _bernoulli(z, c, mask, beta, bias, kappa=0.0, prev=0.0):
    zz = beta * z + bias + kappa * prev
    return -np.logaddexp(0.0, -np.where(c == 1, zz, -zz)) * mask


def _previous(c):
    """The previous response (+1 choice 1, −1 choice 0, 0 none yet) at every trial [E, T]; trials
    without a response keep the one before."""
    E, T = c.shape
    ok = c >= 0
    last = np.where(ok, np.arange(T), -1)
    last = np.maximum.accumulate(last, axis=1)  # the latest response at or before t
    prev = np.zeros((E, T))
    had = last[:, :-1] >= 0
    rows = np.arange(E)[:, None].repeat(T - 1, 1)
    prev[:, 1:] = np.where(had, 2.0 * c[rows, np.clip(last[:, :-1], 0, None)] - 1.0, 0.0)
    return prev


def _circuit(circuit, train: dict, test: dict):
    """The frozen circuit with a fitted readout: P(choice 1) = σ(β·z + κ·c_{t−1} + b), z its
    log-odds, c_{t−1} the animal's previous response (±1), κ a perseveration weight, b a bias;
    ``circuit=None``: the history-free control (κ and b only)."""
    from .scoring import log_odds

    def arrays(table):
        if circuit is None:
            from pfcda.protocols import choice_models as cm
            from pfcda.protocols.twostep.agents import padded

            if "state" in table:
                c, _, _, _, _, s = padded(table)
            else:
                c, _, s = cm.padded(table)
            return np.zeros(c.shape), c, s
        return log_odds(circuit, table)

    z, c, s = arrays(train)
    prev = _previous(c)
    bounds = [(0.0, 0.0 if circuit is None else 10.0), (-5.0, 5.0), (-5.0, 5.0)]
    res = minimize(lambda x: -_bernoulli(z, c, s, *x, prev=prev).sum(), [0.0 if circuit is None else 1.0, 0.0, 0.0],
                   method="L-BFGS-B", bounds=bounds)
    beta, bias, kappa = map(float, res.x)
    z, c, s = arrays(test)
    s = _score_mask(test, s)
    params = {"bias": bias, "perseveration": kappa}
    if circuit is not None:
        params = {"inverse_temperature": beta, **params}
    return _bernoulli(z, c, s, beta, bias, kappa, _previous(c)), s, params


# ---------------------------------------------------------------------------------- scoring
def _blocks(trace, mask, block=BLOCK):
    """Per-block (sum of log-likelihoods, choices) over the held-out choices, session by session."""
    sums, counts = [], []
    for e in range(trace.shape[0]):
        ll = trace[e][mask[e]]
        for k in range(0, len(ll), block):
            sums.append(ll[k:k + block].sum())
            counts.append(len(ll[k:k + block]))
    return np.array(sums), np.array(counts)


def _rnns(models, train: dict, kind: str, seed: int, log) -> dict:
    """The recurrent networks among ``models``, fitted once on every subject's fitting part; the
    shuffled-history control takes the hidden size the GRU chose."""
    from . import rnn_fit

    out = {}
    if "gru" in models or "gru_shuffled" in models:
        out["gru"] = rnn_fit.fit(train, kind, "gru", seed=seed, log=log)
    if "tiny_gru" in models:
        out["tiny_gru"] = rnn_fit.fit(train, kind, "tiny_gru", seed=seed, log=log)
    if "gru_shuffled" in models:
        out["gru_shuffled"] = rnn_fit.fit(train, kind, "gru", seed=seed, shuffle=True,
                                          sizes=(out["gru"].hidden,), log=log)
    return {m: f for m, f in out.items() if m in models}


def benchmark(dataset: str, models=None, seed: int = 0, n_boot: int = 2000, trials: dict | None = None,
              log=None) -> dict:
    """The held-out table of ``dataset`` (``rats`` | ``mice``): every model's NL pooled and per
    subject, its paired bootstrap CI of the difference to the best classic model, its fitted
    parameters per subject, and the manifest."""
    from pfcda import protocols
    from pfcda.circuit.io.checkpoint import load_checkpoint
    from pfcda.protocols import labdata

    d = _dataset(dataset)
    available = (*d["classic"], *RNNS, *CONTROLS, *d["circuits"])
    models = tuple(models or available)
    unknown = [m for m in models if m not in available]
    if unknown:
        raise ConfigError(f"--models: {unknown} not models of {dataset!r}; expected from {list(available)}")
    man = frozen_manifest(dataset)
    if trials is None:
        path = labdata.bundled_path(dataset)
        sha = file_hash(path)
        if sha != man["data_sha256"]:
            raise LabDataError(f"{path}: SHA-256 {sha[:12]}… differs from the split manifest's "
                               f"{man['data_sha256'][:12]}… ({manifest_path(dataset)}); the data changed")
        trials = labdata.load(dataset)
    train, test = split(trials, man)
    subj_tr = np.asarray(train["subject"]).astype(str)
    subj_te = np.asarray(test["subject"]).astype(str)
    circuits = {m: load_checkpoint(d["circuits"][m])[0] for m in models if m in d["circuits"]}
    # the two-step models' transition probability: the lab task's
    p_common = protocols.get("twostep").task(**d["task"]).p_common if d["protocol"] == "twostep" else None
    rnns = _rnns(models, train, d["kind"], seed, log)
    rows = {m: {"per_subject": {}, "params": {}} for m in models}
    blocks = {m: ([], []) for m in models}
    for sj in man["subjects"]:
        tr = {k: v[subj_tr == sj] for k, v in train.items()}
        te = {k: v[subj_te == sj] for k, v in test.items()}
        for m in models:
            if log:
                log(f"benchmark {dataset}: {m} on subject {sj}")
            if m in circuits or m == "sticky":
                trace, mask, params = _circuit(circuits.get(m), tr, te)
            elif m in rnns:
                trace, mask = rnns[m].score(te, sj)
                mask, params = _score_mask(te, mask), {}
            elif d["protocol"] == "twostep":
                trace, mask, params = _classic_twostep(m, tr, te, p_common, seed)
            else:
                trace, mask, params = _classic_choice(m, tr, te, seed)
            ll, n = float(trace[mask].sum()), int(mask.sum())
            rows[m]["per_subject"][sj] = {"nl": float(np.exp(ll / max(n, 1))), "n": n}
            rows[m]["params"][sj] = params
            s, c = _blocks(trace, mask)
            blocks[m][0].append(s)
            blocks[m][1].append(c)
    S = {m: np.concatenate(blocks[m][0]) for m in models}
    N = np.concatenate(blocks[models[0]][1])
    for m in models:
        if not np.array_equal(np.concatenate(blocks[m][1]), N):
            raise RuntimeError(f"benchmark: model {m} scored other choices than {models[0]}")
        rows[m]["nl"] = float(np.exp(S[m].sum() / N.sum()))
        rows[m]["n"] = int(N.sum())
    classic = [m for m in models if m in d["classic"]]
    best = max(classic, key=lambda m: rows[m]["nl"]) if classic else None
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(N), size=(n_boot, len(N)))
    n_b = N[pick].sum(1)
    nl_b = {m: np.exp(S[m][pick].sum(1) / n_b) for m in models}
    for m in models:
        rows[m]["ci95"] = [float(x) for x in np.percentile(nl_b[m], [2.5, 97.5])]
        if best is not None:
            diff = nl_b[m] - nl_b[best]
            rows[m]["vs_best_classic"] = {"model": best, "diff": rows[m]["nl"] - rows[best]["nl"],
                                          "ci95": [float(x) for x in np.percentile(diff, [2.5, 97.5])]}
    return {"dataset": dataset, "protocol": d["protocol"], "checkpoints": {m: d["circuits"][m] for m in circuits},
            "rnns": {m: f.history for m, f in rnns.items()},
            "models": rows, "best_classic": best, "manifest": man, "bootstrap": {"resamples": n_boot, "block": BLOCK,
            "unit": f"blocks of {BLOCK} consecutive held-out choices within a session, paired across models",
            "seed": seed}, "score": "NL = exp(mean log-likelihood per scored held-out choice)"}


def figure(res: dict) -> dict:
    """NL per model with its bootstrap CI (bars) and each subject's NL (dots)."""
    from pfcda.protocols.plotting import subplots

    fig, ax = subplots(figsize=(5, 3.2))
    models = list(res["models"])
    seen = set()
    for i, m in enumerate(models):
        r = res["models"][m]
        kind = "circuit (readout fitted)" if m.startswith("circuit") else \
            "RNN fitted to choices" if "gru" in m else "classic model / control"
        ax.bar(i, r["nl"], 0.6, color={"circuit (readout fitted)": "k", "RNN fitted to choices": "0.45"}.get(kind, "0.75"),
               yerr=[[r["nl"] - r["ci95"][0]], [r["ci95"][1] - r["nl"]]], capsize=3, ecolor="tab:blue",
               label=kind if kind not in seen else None)
        seen.add(kind)
        subj = [v["nl"] for v in r["per_subject"].values()]
        ax.plot(i + np.linspace(-0.15, 0.15, len(subj)), subj, "o", ms=3, color="tab:orange",
                label="subjects" if i == 0 else None)
    ax.axhline(0.5, color="grey", lw=0.5, ls="--", label="chance")
    ax.set_xticks(range(len(models)), [m.replace("_", "\n") for m in models], fontsize=7)
    lo = min(min(v["nl"] for v in r["per_subject"].values()) for r in res["models"].values())
    ax.set_ylim(max(0.0, lo - 0.05), None)
    ax.set_ylabel("held-out NL per choice")
    ax.set_title(f"{res['dataset']}: held-out normalised likelihood (bars: pooled, 95 % bootstrap CI)", fontsize=8)
    ax.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return {f"benchmark_{res['dataset']}": fig}


def recovery(dataset: str = "mice", subjects_per_model: int = 12, seed: int = 0, log=None) -> dict:
    """Ground-truth recovery on the lab's own schedules: each classic model, with the parameters
    fitted to each animal's fitting part, generates choices on that animal's session (its
    reward schedule and baiting; ``subjects_per_model`` simulated subjects, cycling over the
    animals, each with its own simulation seed); every classic model is fitted to the simulated
    subject's fitting part under the data set's split rule and scored on its held-out part. The
    confusion matrix counts which model wins (the highest held-out NL) on whose data.
    Two-choice data sets only (``mice``)."""
    from pfcda.protocols import choice_models as cm
    from pfcda.protocols import labdata

    d = _dataset(dataset)
    if d["kind"] != "choice":
        raise ConfigError(f"dataset: recovery runs on the two-choice data sets, not {dataset!r} (yet)")
    man = frozen_manifest(dataset)
    trials = labdata.load(dataset)
    train, _ = split(trials, man)
    subj = np.asarray(trials["subject"]).astype(str)
    subj_tr = np.asarray(train["subject"]).astype(str)
    names = list(man["subjects"])
    models = d["classic"]
    fitted = {(m, sj): cm.fit({k: v[subj_tr == sj] for k, v in train.items()}, m, starts=3, seed=seed)["params"]
              for m in models for sj in names}
    counts = {g: dict.fromkeys(models, 0) for g in models}
    margins = {g: [] for g in models}
    for g in models:
        for k in range(subjects_per_model):
            sj = names[k % len(names)]
            mine = {c: np.asarray(v)[subj == sj] for c, v in trials.items() if not c.startswith("_")}
            p = np.stack([mine["p_left"], mine["p_right"]], 1)[None].astype(float)
            sim = cm.simulate(fitted[(g, sj)], p, baited=bool(np.asarray(mine.get("baited", [True]))[0]),
                              seed=seed + 1000 * models.index(g) + k)
            sim["subject"] = np.full(len(sim["episode"]), sj)
            half = man["subjects"][sj]["half"] if "half" in man["subjects"][sj] else len(sim["episode"]) // 2
            fit_part = {c: v[:half] for c, v in sim.items()}
            test = {**sim, "score": np.arange(len(sim["episode"])) >= half}
            nl = {}
            for m in models:
                trace, mask, _ = _classic_choice(m, fit_part, test, seed)
                nl[m] = float(np.exp(trace[mask].sum() / mask.sum()))
            win = max(nl, key=nl.get)
            counts[g][win] += 1
            margins[g].append(nl[g] - max(v for m, v in nl.items() if m != g))
            if log:
                log(f"recovery {dataset}: {g} subject {k} (schedule of {sj}) → {win}")
    n = subjects_per_model
    return {"dataset": dataset, "models": list(models), "subjects_per_model": n, "confusion": counts,
            "recovered": {g: counts[g][g] / n for g in models},
            "median_margin": {g: float(np.median(margins[g])) for g in models},
            "generating_params": {f"{m}/{sj}": p for (m, sj), p in fitted.items()},
            "rule": "winner = the highest held-out NL; fitting and held-out parts by the data set's split rule"}

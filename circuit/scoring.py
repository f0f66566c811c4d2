"""Trial-by-trial scoring of a frozen circuit on an animal's own choices (the practice of Miller
et al. and of disentangled_rnns), and a model comparison with classic models on held-out
sessions.

The animal's history — its choices, the transitions and outcomes it experienced — is fed
through the circuit step by step (teacher forcing), and the circuit's policy at each free
choice gives the likelihood of the animal's next choice. The circuit's log-odds are scaled by
one fitted inverse temperature (animals are noisier than a trained network); the classic models
(Daw 2011 hybrid, and its model-free special case w = 0) are fitted by maximum likelihood on the
training sessions. All are scored on held-out sessions: the normalised likelihood per trial,
exp(mean log-likelihood), 0.5 = chance.
"""
from __future__ import annotations

import numpy as np
import torch


def twostep_log_odds(circuit, trials: dict) -> tuple[np.ndarray, dict]:
    """The circuit's log-odds of choosing right at every trial of a (ragged) two-step trials
    table, with the animal's own history fed in; returns (z [E, T], padded data dict with
    ``c``, ``scored``). The circuit must be a two-step circuit (its task's feedback encoding and
    phase layout are used). The animal's transition is mapped into the task's frame (common =
    state on the chosen side), so congruent and incongruent rats alike are scored."""
    from protocols.base import episode_positions
    from protocols.twostep import FIXATE
    from protocols.twostep_agents import padded

    # Note: lab sessions (hundreds of trials) run the circuit far past the episode length it was
    # trained on (100 trials for miller); the state is not reset within a session.

    if circuit.config.protocol != "twostep":
        raise ValueError(f"circuit: a two-step circuit is needed, got {circuit.config.protocol!r}")
    task = circuit.make_task()
    c, _, opt, r, live, scored = padded(trials)
    idx, pos, E, T = episode_positions(trials["episode"])  # the same layout as padded()
    common = np.zeros((E, T), bool)
    common[idx, pos] = np.asarray(trials["common"], bool)
    s = np.where(common, c, 1 - c)  # the state in the task's frame
    exists = np.zeros((E, T), bool)
    exists[idx, pos] = True
    n_obs, trial_fb = task.n_obs, task.feedback == "trial"
    z = np.zeros((E, T))
    with torch.inference_mode():
        state = circuit.initial_state(E)
        prev_a = torch.full((E,), -1, dtype=torch.long)
        prev_r = torch.zeros(E)
        last = torch.zeros(E, 4)
        for t in range(T):
            ct = torch.as_tensor(c[:, t])
            st = torch.as_tensor(s[:, t])
            rt = torch.as_tensor(r[:, t] * live[:, t], dtype=torch.float32)
            for phase in range(3):
                obs = torch.zeros(E, n_obs)
                if phase < 2:
                    obs[:, phase] = 1.0
                else:
                    obs[torch.arange(E), 2 + st] = 1.0
                if trial_fb:
                    obs[:, 4:] = last
                out = circuit.step(obs, prev_a, prev_r, state)
                state = out.state
                if phase == 1:
                    z[:, t] = (out.logits[:, 2] - out.logits[:, 1]).numpy()
                if phase == 0:
                    prev_a = torch.full((E,), FIXATE)
                elif phase == 1:
                    prev_a = 1 + ct
                else:  # the outcome response: the port (miller) or the second-stage option (daw)
                    prev_a = (torch.full((E,), FIXATE) if task.variant == "miller"
                              else 1 + torch.as_tensor(opt[:, t]))
                prev_r = rt if phase == 2 else torch.zeros(E)
            last = torch.stack([(ct == 0).float(), (ct == 1).float(), (st == 0).float(), rt], 1)
    return z, {"c": c, "scored": scored & exists}


def _split_sessions(trials: dict):
    """Alternate sessions of each subject into train (even) and held-out (odd) sets; where every
    subject has a single session (e.g. human data sets), alternate subjects instead."""
    subj = np.asarray(trials.get("subject", np.zeros(len(trials["episode"]))))
    ep = np.asarray(trials["episode"])
    test = np.zeros(len(ep), bool)
    subjects = np.unique(subj)
    if all(len(np.unique(ep[subj == sj])) == 1 for sj in subjects) and len(subjects) > 1:
        test = np.isin(subj, subjects[1::2])
    for sj in subjects:
        eps = np.unique(ep[subj == sj])
        held = eps[1::2]
        test |= np.isin(ep, held) & (subj == sj)
    sub = lambda m: {k: np.asarray(v)[m] for k, v in trials.items() if not k.startswith("_")}  # noqa: E731
    return sub(~test), sub(test)


def _bernoulli_ll(z, c, mask, beta=1.0):
    zz = beta * z[mask]
    y = c[mask] == 1
    return float(-np.logaddexp(0.0, -np.where(y, zz, -zz)).sum()), int(mask.sum())


def twostep_model_comparison(circuit, trials: dict, p_common: float = 0.8, seed: int = 0) -> dict:
    """Held-out normalised likelihood per trial of the circuit (one fitted inverse temperature),
    Daw's hybrid and the model-free learner (w = 0), pooled and per subject. Also the hybrid's
    parameters on the animals' training sessions."""
    from scipy.optimize import minimize_scalar

    from protocols.twostep_agents import fit_hybrid_ragged

    train, test = _split_sessions(trials)
    z_tr, d_tr = twostep_log_odds(circuit, train)
    res = minimize_scalar(lambda b: -_bernoulli_ll(z_tr, d_tr["c"], d_tr["scored"], b)[0],
                          bounds=(0.0, 5.0), method="bounded")
    beta = float(res.x)
    z_te, d_te = twostep_log_odds(circuit, test)
    hyb = fit_hybrid_ragged(train, p_common, seed=seed)
    mf = fit_hybrid_ragged(train, p_common, seed=seed, w=0.0)

    def per_subject(fn):
        out = {}
        subj = np.asarray(test.get("subject", np.zeros(len(test["episode"]))))
        for sj in np.unique(subj):
            part = {k: v[subj == sj] for k, v in test.items()}
            ll, n = fn(part)
            out[str(sj)] = {"likelihood_per_trial": float(np.exp(ll / max(n, 1))), "n": n}
        return out

    def circuit_ll(part):
        z, d = twostep_log_odds(circuit, part)
        return _bernoulli_ll(z, d["c"], d["scored"], beta)

    rows = {}
    for name, fn in (("circuit", circuit_ll), ("hybrid", hyb["loglik_fn"]), ("model_free", mf["loglik_fn"])):
        ll, n = fn(test)
        rows[name] = {"likelihood_per_trial": float(np.exp(ll / max(n, 1))), "n": n,
                      "per_subject": per_subject(fn)}
    rows["circuit"]["inverse_temperature"] = beta
    return {"held_out": rows, "hybrid_params": hyb["params"], "model_free_params": mf["params"],
            "split": "alternate sessions of each subject: even → fit, odd → held out (one session "
                     "per subject: alternate subjects)"}


# ------------------------------------------------------------------ two-choice foraging / bandits
def choice_log_odds(circuit, trials: dict) -> tuple[np.ndarray, dict]:
    """The circuit's log-odds of choosing right at every trial of a (ragged) two-choice trials
    table (lab foraging/bandit sessions: ``choice`` 0 left, 1 right, −1 no response), with the
    animal's own choices and rewards fed in (teacher forcing). The circuit must be a
    ``matching`` circuit (fixation step, then choice step). A trial without a response is fed as
    a fixation response with no reward and is not scored. Returns (z [E, T], {"c", "scored"})."""
    from protocols.choice_models import padded
    from protocols.matching import FIXATE

    if circuit.config.protocol != "matching":
        raise ValueError(f"circuit: a matching (foraging) circuit is needed, got {circuit.config.protocol!r}")
    c, r, scored = padded(trials)
    E, T = c.shape
    z = np.zeros((E, T))
    with torch.inference_mode():
        state = circuit.initial_state(E)
        prev_a = torch.full((E,), -1, dtype=torch.long)
        prev_r = torch.zeros(E)
        for t in range(T):
            for phase in range(2):
                obs = torch.zeros(E, 2)
                obs[:, phase] = 1.0
                out = circuit.step(obs, prev_a, prev_r, state)
                state = out.state
                if phase == 0:
                    prev_a, prev_r = torch.full((E,), FIXATE), torch.zeros(E)
                else:
                    z[:, t] = (out.logits[:, 2] - out.logits[:, 1]).numpy()
                    ct = torch.as_tensor(c[:, t])
                    prev_a = torch.where(ct >= 0, 1 + ct.clamp(min=0), torch.full((E,), FIXATE))
                    prev_r = torch.as_tensor(r[:, t] * (c[:, t] >= 0), dtype=torch.float32)
    return z, {"c": c, "scored": scored}


def _session_label(trials: dict, ep: np.ndarray, e) -> str:
    """A unique label for episode ``e``: subject/session where both exist, else the episode."""
    rows = ep == e
    parts = [str(np.asarray(trials[k])[rows][0]) for k in ("subject", "session") if k in trials]
    label = "/".join(parts) if parts else str(e)
    return label if "session" in trials and "subject" in trials else f"{label}#{e}"


def foraging_model_comparison(circuit, trials: dict, seed: int = 0) -> dict:
    """Leave-one-session-out model comparison on two-choice (foraging) data: for each session,
    the circuit's inverse temperature and the Q-learning models (``rw``: α, β, κ, b;
    ``rw_forget``: + forgetting ζ) are fitted on the other sessions and scored on it. Reports
    the held-out normalised likelihood per choice, pooled and per session, and each model's
    parameters fitted to every session alone (animal by animal)."""
    from scipy.optimize import minimize_scalar

    from protocols import choice_models as cm

    ep = np.asarray(trials["episode"])
    sessions = np.unique(ep)
    if len(sessions) < 2:
        raise ValueError("trials: leave-one-session-out needs at least 2 sessions")
    sub = lambda m: {k: np.asarray(v)[m] for k, v in trials.items() if not k.startswith("_")}  # noqa: E731
    z_all, d_all = choice_log_odds(circuit, trials)  # sessions are independent: score them once
    eidx = np.searchsorted(sessions, sessions)
    tot = {name: [0.0, 0] for name in ("circuit", "rw", "rw_forget")}
    per = {}
    for k, s in enumerate(sessions):
        train_rows = eidx != k
        res = minimize_scalar(
            lambda b: -_bernoulli_ll(z_all[train_rows], d_all["c"][train_rows], d_all["scored"][train_rows], b)[0],
            bounds=(0.0, 5.0), method="bounded")
        ll_c = _bernoulli_ll(z_all[k:k + 1], d_all["c"][k:k + 1], d_all["scored"][k:k + 1], float(res.x))
        label = _session_label(trials, ep, s)
        per[label] = {"circuit": ll_c}
        for model in ("rw", "rw_forget"):
            f = cm.fit(sub(ep != s), model, starts=3, seed=seed)
            per[label][model] = f["loglik_fn"](sub(ep == s))
        for name, (ll, n) in per[label].items():
            tot[name][0] += ll
            tot[name][1] += n
    held = {name: {"likelihood_per_trial": float(np.exp(ll / max(n, 1))), "n": n,
                   "per_session": {lab: float(np.exp(v[name][0] / max(v[name][1], 1))) for lab, v in per.items()}}
            for name, (ll, n) in tot.items()}
    own = {}
    for s in sessions:
        label = _session_label(trials, ep, s)
        own[label] = {m: cm.fit(sub(ep == s), m, starts=3, seed=seed)["params"] for m in ("rw", "rw_forget")}
    return {"held_out": held, "per_session_fits": own,
            "split": "leave one session out: fit on the others, score the held-out session"}


def classic_fit(protocol: str, trials: dict, seed: int = 0, p_common: float = 0.8) -> dict:
    """The classic models fitted by maximum likelihood to a trials table (the circuit's own
    choices, or an animal's), so their parameters sit side by side: two-step → Daw's hybrid
    (pooled sessions); two-choice → Q-learning with perseveration, with and without forgetting.
    ``choice`` must be 0/1 (−1 none)."""
    if protocol == "twostep":
        from protocols.twostep_agents import fit_hybrid_ragged

        return {"hybrid": fit_hybrid_ragged(trials, p_common, seed=seed)["params"]}
    from protocols import choice_models as cm

    return {m: cm.fit(trials, m, starts=3, seed=seed)["params"] for m in ("rw", "rw_forget")}

"""Recurrent networks fitted directly to animals' choices — the data-driven comparison for the
frozen meta-RL circuit in ``pfcda benchmark``.

A GRU reads, at each trial, what the animal saw on the previous one and predicts its next
choice (supervised, next-choice cross-entropy), as in Dezfouli et al. 2019 (NeurIPS) and the
tiny RNNs of Ji-An, Benna & Mattar 2025 (Nature). One network per data set, fitted on every
subject's fitting part with a learned subject embedding (a population model; the behaviour-model
benchmarks' "population GRU").

Input at trial t (the previous trial, zeros when it had no response or at a session's start):

* two-choice data (foraging, bandits): the one-hot of (choice, reward) of trial t − 1 (4);
* two-step data: the one-hot of (first-stage choice, second-step state, reward) of t − 1 (8);

plus the subject's embedding (``EMBED`` dims, 1 for the tiny networks). Output: the log-odds of
choice 1 over choice 0 (right over left). Training: Adam on the full batch of fitting sessions;
the last ``VALID`` fraction of each fitting session's scored choices is kept out of the loss as
a validation set; training stops when its likelihood has not improved for ``PATIENCE`` epochs,
and the best epoch's weights are kept. The hidden size is chosen among ``sizes`` by the same
validation likelihood. Nothing of the held-out part is seen.

``shuffle=True`` is the control: each session's inputs are permuted across its trials (seeded),
so the network keeps the choice frequencies and the subject's bias but no history; a GRU that
does not beat it has learnt nothing sequential.
"""
from __future__ import annotations

import numpy as np

VALID = 0.2
PATIENCE = 40
MAX_EPOCHS = 600
EMBED = 4
SIZES = {"gru": (4, 16, 32), "tiny_gru": (1, 2)}


def _arrays(table: dict, kind: str):
    """(inputs [E, T, F] float32, choices [E, T] 0/1 (−1 none), scored [E, T]) of a ragged table."""
    if kind == "twostep":
        from pfcda.protocols.twostep.agents import padded

        c, s, _, r, live, scored = padded(table)
        code = np.where(live, 4 * c + 2 * s + (r > 0), -1)
        F = 8
    else:
        from pfcda.protocols import choice_models as cm

        c, r, scored = cm.padded(table)
        code = np.where(c >= 0, 2 * np.clip(c, 0, 1) + (r > 0), -1)
        F = 4
    E, T = c.shape
    x = np.zeros((E, T, F), np.float32)
    prev = code[:, :-1]
    e, t = np.nonzero(prev >= 0)
    x[e, t + 1, prev[e, t]] = 1.0
    choice = np.where(scored, c, -1)
    return x, choice, scored


def _shuffled(x: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([xe[rng.permutation(len(xe))] for xe in x])


def _net(n_in: int, hidden: int, n_subjects: int, embed: int):
    import torch

    class ChoiceGRU(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(n_subjects, embed)
            self.gru = torch.nn.GRU(n_in + embed, hidden, batch_first=True)
            self.out = torch.nn.Linear(hidden, 1)

        def forward(self, x, subj):
            e = self.embed(subj)[:, None, :].expand(-1, x.shape[1], -1)
            h, _ = self.gru(torch.cat([x, e], 2))
            return self.out(h).squeeze(-1)

    return ChoiceGRU()


def _loglik(z, c):
    """Log-likelihood of each choice (0/1) under log-odds z (torch)."""
    import torch

    return -torch.nn.functional.softplus(torch.where(c == 1, -z, z))


class FittedGRU:
    """A GRU fitted to a data set's fitting part: ``score(table, subject)`` → (trace [E, T] of
    each choice's log-likelihood, scored mask [E, T])."""

    def __init__(self, net, subjects, kind, shuffle, seed, hidden, history):
        self.net, self.subjects, self.kind = net, list(subjects), kind
        self.shuffle, self.seed, self.hidden, self.history = shuffle, seed, hidden, history

    def score(self, table: dict, subject: str):
        import torch

        x, c, scored = _arrays(table, self.kind)
        if self.shuffle:
            x = _shuffled(x, self.seed + 1)
        subj = torch.full((len(x),), self.subjects.index(subject), dtype=torch.long)
        with torch.no_grad():
            z = self.net(torch.from_numpy(x), subj)
            ll = _loglik(z, torch.from_numpy(np.clip(c, 0, 1))).numpy().astype(np.float64)
        return np.where(scored, ll, 0.0), scored


def fit(train: dict, kind: str, model: str = "gru", seed: int = 0, shuffle: bool = False,
        sizes=None, max_epochs: int = MAX_EPOCHS, log=None) -> FittedGRU:
    """Fit a population GRU (``model`` ``gru`` or ``tiny_gru``; hidden size by validation among
    ``sizes``) to the fitting table ``train`` (a ``subject`` column; ``kind`` ``twostep`` or
    ``choice``)."""
    import torch

    from pfcda.errors import ConfigError

    if model not in SIZES:
        raise ConfigError(f"model: expected one of {sorted(SIZES)}, got {model!r}")
    if kind not in ("twostep", "choice"):
        raise ConfigError(f"kind: expected 'twostep' or 'choice', got {kind!r}")
    sizes = tuple(sizes or SIZES[model])
    embed = 1 if model == "tiny_gru" else EMBED
    subj_col = np.asarray(train["subject"]).astype(str)
    subjects = list(dict.fromkeys(subj_col))
    ep = np.asarray(train["episode"])
    of = dict(zip(ep.tolist(), subj_col))  # episode → its subject
    x, c, scored = _arrays(train, kind)
    if shuffle:
        x = _shuffled(x, seed + 1)
    subj = torch.tensor([subjects.index(of[e]) for e in np.unique(ep).tolist()], dtype=torch.long)
    # validation: the last VALID of each session's scored choices
    rank = np.cumsum(scored, 1)
    n = scored.sum(1, keepdims=True)
    valid = scored & (rank > np.ceil((1 - VALID) * n))
    fitm = scored & ~valid
    X, C = torch.from_numpy(x), torch.from_numpy(np.clip(c, 0, 1))
    M, V = torch.from_numpy(fitm), torch.from_numpy(valid)
    best = None
    for hidden in sizes:
        torch.manual_seed(seed)
        net = _net(x.shape[2], hidden, len(subjects), embed)
        opt = torch.optim.Adam(net.parameters(), lr=1e-2 if hidden <= 2 else 5e-3)
        top, top_state, since, curve = -np.inf, None, 0, []
        for epoch in range(max_epochs):
            ll = _loglik(net(X, subj), C)
            loss = -(ll * M).sum() / M.sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                v = float(((_loglik(net(X, subj), C) * V).sum() / V.sum()))
            curve.append(v)
            if v > top + 1e-5:
                top, since = v, 0
                top_state = {k: t.clone() for k, t in net.state_dict().items()}
            else:
                since += 1
                if since >= PATIENCE:
                    break
        if log:
            log(f"{model}{' (shuffled history)' if shuffle else ''}: hidden {hidden}, validation "
                f"NL {np.exp(top):.4f} after {epoch + 1} epochs")
        if best is None or top > best[0]:
            net.load_state_dict(top_state)
            best = (top, hidden, net, {"hidden": hidden, "validation_nl": float(np.exp(top)),
                                       "epochs": epoch + 1})
    hist = {"sizes": list(sizes), "chosen": best[3], "validation_fraction": VALID, "patience": PATIENCE}
    return FittedGRU(best[2].eval(), subjects, kind, shuffle, seed, best[1], hist)

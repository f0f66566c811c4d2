"""The held-out benchmark on animal choices (``pfcda benchmark``): the split is frozen, fits see
only the fitting part, and the table's numbers follow from the held-out choices."""
import numpy as np
import pytest

from pfcda.circuit.lab import benchmark as bm
from pfcda.protocols import labdata

#: the frozen split manifests: the bundled data's SHA-256 and the split lists' SHA-256
FROZEN = {"rats": ("793da2be17f6", "444ac7456495"), "mice": ("eba65cfba37f", "a8461a681228")}


@pytest.mark.parametrize("name", sorted(FROZEN))
def test_split_manifest_is_fixed(name):
    frozen = bm.frozen_manifest(name)
    assert (frozen["data_sha256"][:12], frozen["splits_sha256"][:12]) == FROZEN[name]
    # the manifest the rule makes from the bundled data is the frozen one
    assert bm.make_manifest(name, labdata.load(name), labdata.bundled_path(name)) == frozen


def test_split_holds_out_odd_sessions_and_second_halves():
    rats = labdata.load("rats")
    man = bm.frozen_manifest("rats")
    train, test = bm.split(rats, man)
    for sj, s in man["subjects"].items():
        fit_sessions = set(np.unique(train["session"][train["subject"].astype(str) == sj]).astype(str))
        if "half" in s:  # one session: its first half fits, the second half is scored
            assert (train["subject"].astype(str) == sj).sum() == s["half"]
            scored = test["score"][test["subject"].astype(str) == sj]
            assert not scored[:s["half"]].any() and scored[s["half"]:].all()
        else:
            assert fit_sessions == set(s["fit"]) and not fit_sessions & set(s["held_out"])
    assert len(train["episode"]) + int(test["score"].sum()) == len(rats["episode"])


def test_fits_never_see_held_out_choices():
    # flipping every scored held-out choice leaves each subject's fitted parameters unchanged
    # and changes the held-out score
    mice = labdata.load("mice")
    _, test = bm.split(mice, bm.frozen_manifest("mice"))
    base = bm.benchmark("mice", models=("rw",), n_boot=50, trials=mice)
    flipped = {k: np.array(v, copy=True) for k, v in mice.items() if not k.startswith("_")}
    held = np.zeros(len(flipped["episode"]), bool)
    for sj, s in bm.frozen_manifest("mice")["subjects"].items():
        mine = np.flatnonzero(flipped["subject"].astype(str) == sj)
        held[mine[s["half"]:]] = True
    ok = held & (flipped["choice"] >= 0)
    flipped["choice"][ok] = 1 - flipped["choice"][ok]
    other = bm.benchmark("mice", models=("rw",), n_boot=50, trials=flipped)
    assert other["models"]["rw"]["params"] == base["models"]["rw"]["params"]
    assert other["models"]["rw"]["n"] == base["models"]["rw"]["n"] == int(test["score"].sum() - 0) - \
        int(((test["choice"] < 0) & test["score"]).sum())
    # the animals' own choices are predicted above chance; their flipped ones below
    assert base["models"]["rw"]["ci95"][0] > 0.5 > other["models"]["rw"]["nl"]
    from pfcda.circuit.cli import report

    table = "\n".join(report.benchmark(base))
    assert "splits SHA-256 a8461a681228" in table and f"{base['models']['rw']['nl']:.3f}" in table


def test_changed_data_is_refused(monkeypatch, tmp_path):
    path = tmp_path / "mice.csv.gz"
    path.write_bytes(b"not the data")
    monkeypatch.setattr(labdata, "bundled_path", lambda name: str(path))
    with pytest.raises(Exception, match="differs from the split manifest"):
        bm.benchmark("mice", models=("rw",))
    with pytest.raises(Exception, match="--models"):
        bm.benchmark("mice", models=("hybrid",))

"""Closed-loop optogenetics and D1 blockade on the shipped Stopper circuit (the closed-loop table of the README).

Runs the same 400 episodes (p_risky 0.125 or 0.5 each, weights frozen) without the loop and, with
every step's RPE passing through the spiking DA population, in six conditions; prints the
fraction of risky free choices (± sem over episodes) at each p.

    python examples/stopper_closed_loop.py [--episodes 400] [--seed 1]      # ≈ 10 min on 2 cores
"""
import argparse

CHR2 = {"name": "ChR2 at risky loss", "target": "da_neurons", "action": "chr2", "event": "risky_unrewarded"}
ARCHT = {"name": "ArchT at risky reward", "target": "da_neurons", "action": "archt", "frequency_hz": 0.0,
         "event": "risky_rewarded"}
D1 = {"name": "D1 block", "target": "d1", "action": "silence"}
D1_HALF = {"name": "D1 half block", "target": "d1", "action": "scale", "value": 0.5}
CONDITIONS = {"control": [], "chr2": [CHR2], "archt": [ARCHT], "d1": [D1], "d1_half": [D1_HALF],
              "chr2_d1half": [CHR2, D1_HALF]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    from pfcda.circuit.run import run
    from pfcda.protocols.stopper import risky_fraction

    def show(name, rec):
        cells = {p: f"{m:.3f} ± {s:.3f}" for p, (m, s) in risky_fraction(rec.trials).items()}
        print(f"{name:<12} p=0.125 {cells.get(0.125, '—'):>15}   p=0.5 {cells.get(0.5, '—'):>15}", flush=True)

    n = args.episodes
    show("no loop", run("stopper", episodes=n, seed=args.seed, batch_size=n))
    for name, manips in CONDITIONS.items():
        show(name, run("stopper", episodes=n, seed=args.seed, batch_size=n, manipulations=manips,
                       closed_loop=True))


if __name__ == "__main__":
    main()

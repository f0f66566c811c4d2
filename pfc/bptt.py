"""Backpropagation through time for the LSTM core, written out: the fast path of training.

Autograd builds one graph node per gate, per step, per unroll; at the network's size (48 units,
batches of a few hundred episodes) that bookkeeping, not the arithmetic, is most of a training
step. :class:`LSTMUnroll` runs the same LSTM cell (``torch.nn.LSTMCell``'s equations and gate
order i, f, g, o) over an unroll with no graph: one fused matrix product per step on the
concatenated [input, h] buffer, in a gate order (o, i, f, g) that makes the three sigmoid gates one
contiguous block. Each step also forms the factors of its own derivative while its gates are in
cache (on a large unroll these buffers exceed the cache, and forming them afterwards costs more
than the whole walk back). :meth:`LSTMUnroll.backward` then takes the loss gradient at the hidden
states (from the readouts, which run with autograd over the whole unroll at once) and walks the
unroll backwards — one matrix product and five elementwise operations per step, in place in
preallocated ``[T, B, ·]`` buffers — and ends with one matrix product for all the weight
gradients over the T·B steps.

The gradients are those autograd gives through ``LSTMCell`` (tested to float precision), with
the same truncation as the autograd trainer: the state carried into an unroll is a constant, and
an episode restarted inside the unroll starts from the learned initial state, which receives the
gradient of the steps after it.
"""
from __future__ import annotations

import torch


class LSTMUnroll:
    """Forward and backward of an LSTM cell over ``T`` steps of ``B`` episodes, no autograd.

    cell: a ``torch.nn.LSTMCell`` (its weights are read at :meth:`begin`, once per unroll).
    Per step, the caller writes the input into :meth:`input_view` (``[B, n_in]``) and calls
    :meth:`step` with the state to read; :meth:`backward` accumulates the weight gradients into
    the cell's ``.grad`` and returns the gradient at the initial state.
    """

    def __init__(self, cell: torch.nn.LSTMCell, T: int, B: int):
        self.cell, self.T, self.B = cell, T, B
        n, n_in = cell.hidden_size, cell.input_size
        self.n, self.n_in = n, n_in
        f32 = cell.weight_ih.dtype
        # gate order here: o, i, f, g (PyTorch's rows are i, f, g, o)
        self.perm = torch.cat([torch.arange(3 * n, 4 * n), torch.arange(0, 2 * n), torch.arange(2 * n, 3 * n)])
        self.inv = torch.argsort(self.perm)
        self.XH = torch.zeros(T, B, n_in + n, dtype=f32)  # [x_t, h_{t-1}] (h after any restart)
        self.G = torch.empty(T, B, 4 * n, dtype=f32)  # activated gates o, i, f, g
        self.P = torch.empty(T, B, 4 * n, dtype=f32)  # ∂(pre-activation)/∂(h or c); then ∂L/∂(pre-activation)
        self.Kc = torch.empty(T, B, n, dtype=f32)  # ∂c_t/∂h_t along o·tanh: o(1 − tanh²c)
        self.H = torch.empty(T, B, n, dtype=f32)  # h_t, what the readouts see
        self._tc = torch.empty(B, n, dtype=f32)
        self._DHP = torch.empty(T, B, n, dtype=f32)
        self._DCP = torch.empty(T, B, n, dtype=f32)

    def begin(self) -> None:
        """Read the cell's current weights (call once before each unroll)."""
        c = self.cell
        n = self.n
        # the forward computes tanh(x) = 2σ(2x) − 1, so that one sigmoid covers all four gates:
        # the g rows are doubled here
        scale = torch.ones(4 * n, 1)
        scale[3 * n:] = 2.0
        W = torch.cat([c.weight_ih, c.weight_hh], dim=1).detach()[self.perm] * scale  # [4n, n_in+n]
        self.Wt = W.t().contiguous()
        self.W_hh = c.weight_hh.detach()[self.perm].contiguous()  # [4n, n] (unscaled: backward)
        self.bias = (c.bias_ih + c.bias_hh).detach()[self.perm] * scale[:, 0]

    def input_view(self, t: int) -> torch.Tensor:
        """Where step ``t``'s input goes ([B, n_in], a view)."""
        return self.XH[t, :, :self.n_in]

    def step(self, t: int, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Step ``t`` from state (h, c) on the input already written: → (h_t, c_t)."""
        n = self.n
        xh = self.XH[t]
        xh[:, self.n_in:] = h
        g = torch.addmm(self.bias, xh, self.Wt, out=self.G[t]).sigmoid_()
        gg = g[:, 3 * n:].mul_(2.0).sub_(1.0)  # 2σ(2x) − 1 = tanh x
        o, i, f = g[:, :n], g[:, n:2 * n], g[:, 2 * n:3 * n]
        c_new = torch.addcmul(f * c, i, gg)
        tc = torch.tanh(c_new, out=self._tc)
        h_new = torch.mul(o, tc, out=self.H[t])
        # the derivative's factors, while this step's gates are in cache
        P = self.P[t]
        torch.mul(g, g, out=P)
        torch.sub(g, P, out=P)  # σ(1 − σ) for o, i, f (the g block is overwritten below)
        P[:, :n].mul_(tc)  # o ← dh·tanh(c)·o(1−o)
        P[:, n:2 * n].mul_(gg)  # i ← dc·g·i(1−i)
        P[:, 2 * n:3 * n].mul_(c)  # f ← dc·c_{t−1}·f(1−f)
        pg = torch.mul(gg, gg, out=P[:, 3 * n:])
        torch.addcmul(i, i, pg, value=-1.0, out=pg)  # g ← dc·i·(1 − g²)
        kc = torch.mul(tc, tc, out=self.Kc[t])
        torch.addcmul(o, o, kc, value=-1.0, out=kc)  # dc ← dh·o·(1 − tanh²c)
        return h_new, c_new

    def backward(self, dH: torch.Tensor, restarted: torch.Tensor, init_grad: bool = False) -> torch.Tensor:
        """Accumulate the weight gradients of the unroll into the cell.

        dH [T, B, n]: the loss gradient at h_t from the readouts. restarted [T, B] bool: the state
        read at step t was the learned initial state (its episode restarted after step t − 1).
        init_grad: the state read at step 0 is the initial state itself, not a carried constant
        (the first unroll of a run). Returns the gradient at the initial state (h0, c0), [2, n].
        Call once per forward unroll (it overwrites the forward's derivative factors).
        """
        n, T, B = self.n, self.T, self.B
        keep = (~restarted).unsqueeze(-1).to(dH.dtype)  # [T, B, 1]
        dA, Kc = self.P, self.Kc  # dA overwrites P, step by step
        F = self.G[..., 2 * n:3 * n]  # forget gates
        DHP, DCP = self._DHP, self._DCP  # gradients at the state read by step t
        dh = dH[T - 1]
        dc = dh * Kc[T - 1]
        for t in range(T - 1, -1, -1):
            da = dA[t]
            da[:, :n].mul_(dh)
            da[:, n:].view(B, 3, n).mul_(dc.unsqueeze(1))
            torch.mm(da, self.W_hh, out=DHP[t])
            torch.mul(dc, F[t], out=DCP[t])
            if t:
                dh = torch.addcmul(dH[t - 1], DHP[t], keep[t])
                dc = torch.addcmul(DCP[t] * keep[t], dh, Kc[t - 1])
        read_init = restarted.unsqueeze(-1).to(dH.dtype)
        read_init[0] = 1.0 if init_grad else 0.0
        g_init = torch.stack([(DHP * read_init).sum((0, 1)), (DCP * read_init).sum((0, 1))])
        flat = dA.view(T * B, 4 * n)
        dW = torch.mm(self.XH.view(T * B, self.n_in + n).t(), flat)[:, self.inv]  # [n_in+n, 4n]
        db = flat.sum(0)[self.inv]
        c = self.cell
        for p, gr in ((c.weight_ih, dW[:self.n_in].t()), (c.weight_hh, dW[self.n_in:].t()),
                      (c.bias_ih, db), (c.bias_hh, db)):
            p.grad = gr.clone(memory_format=torch.contiguous_format) if p.grad is None else p.grad + gr
        return g_init

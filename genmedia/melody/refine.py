"""Refining the encoder's latent: a few gradient steps on z so that the decoder writes the melody back.

A VAE's encoder is amortised: one network guesses z for every melody, and its guess can fall short
of what the decoder can do (Cremer et al. 2018's "amortisation gap"; Kim et al. 2018 refine the
guess by gradient steps, as here). For the shipped 2-bar model the gap is most of the error on
dense tunes: fiddle reels of 20 or more notes per 2 bars came back at 0.5-0.6 per-step accuracy from
the encoder's mean, and for each of them a z exists, close to that mean, that the decoder writes back
exactly. This module finds it at run time, without torch: the decoder's LSTMs are run forward and
back through time in numpy (their weights read from the model's ONNX files), and Adam moves z to
lower the teacher-forced negative log-likelihood of the melody. The z kept is the one whose greedy
decoding by the model itself (ONNX Runtime) matches the melody best (the encoder's mean counts too,
so refining never does worse by that measure); it stops early once a window comes back exactly.

Both decoders genmedia exports: flat (`FlatDecoder`: z sets the LSTM's state and is fed at every
step) and hierarchical (`HierarchicalDecoder`: a conductor LSTM turns z into one embedding per bar,
and the flat bar decoder writes each bar from its embedding).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from genmedia.onnxfile import Node, graph_weights

ITERATIONS = 60  # Adam steps at most; on held-out dense fiddle windows 20 steps took 0.51 to 0.98
CHECK_EVERY = 5  # greedy decodes between steps, to keep the best z and stop early
LEARNING_RATE = 0.05


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 0.5 * (1.0 + np.tanh(0.5 * x))
    return out


@dataclass(frozen=True)
class Lstm:
    """One LSTM layer as ONNX stores it: gate blocks in the order input, output, forget, cell."""

    w: np.ndarray  # (4H, inputs)
    r: np.ndarray  # (4H, H)
    bias: np.ndarray  # (4H,), ONNX's input and recurrent biases summed

    @classmethod
    def of(cls, node: Node, weights: dict[str, np.ndarray], path: Path) -> Lstm:
        try:
            w, r, b = (weights[name] for name in node.inputs[1:4])
        except (KeyError, ValueError):
            raise ValueError(f"{path}: not a decoder genmedia can refine (LSTM weights missing)") from None
        if w.shape[0] != 1 or r.shape[0] != 1 or b.shape != (1, 2 * w.shape[1]) or r.shape[1] != 4 * r.shape[2]:
            raise ValueError(f"{path}: not a decoder genmedia can refine (not a one-layer, one-way LSTM)")
        return cls(w=w[0], r=r[0], bias=b[0, :b.shape[1] // 2] + b[0, b.shape[1] // 2:])

    @property
    def hidden(self) -> int:
        return int(self.r.shape[1])

    def forward(self, gates_in: list[np.ndarray], h: np.ndarray, c: np.ndarray) -> list[tuple[np.ndarray, ...]]:
        """Run over the steps whose input contributions (x @ w.T, each (B, 4H)) are `gates_in`, from
        state (h, c); per step (sigmoid of the input, output and forget gates, cell input, previous c,
        c, h), for `backward`."""
        hs = self.hidden
        r_t = np.ascontiguousarray(self.r.T)
        cache: list[tuple[np.ndarray, ...]] = []
        for x in gates_in:
            g = h @ r_t
            g += x
            g += self.bias
            gates = _sigmoid(g[:, :3 * hs])
            cc = np.tanh(g[:, 3 * hs:])
            c_new = gates[:, 2 * hs:] * c + gates[:, :hs] * cc
            h = gates[:, hs:2 * hs] * np.tanh(c_new)
            cache.append((gates, cc, c, c_new, h))
            c = c_new
        return cache

    def backward(self, cache: list[tuple[np.ndarray, ...]],
                 dh_out: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Back through time: from the loss's gradient on each step's h (T, B, H) to the gradient on
        the gate inputs summed over the steps (the inputs' is that times w, for an input fed at every
        step) and on the initial h and c."""
        hs = self.hidden
        dh_next = np.zeros_like(dh_out[0])
        dc_next = np.zeros_like(dh_out[0])
        dg = np.empty((dh_out.shape[1], 4 * hs), dtype=dh_out.dtype)
        total = np.zeros_like(dg)
        for t in reversed(range(len(cache))):
            gates, cc, c_prev, c_t, _ = cache[t]
            i, o, f = gates[:, :hs], gates[:, hs:2 * hs], gates[:, 2 * hs:]
            dh = dh_out[t] + dh_next
            tanh_c = np.tanh(c_t)
            dc = dh * o * (1.0 - tanh_c ** 2) + dc_next
            dg[:, :hs] = dc * cc
            dg[:, hs:2 * hs] = dh * tanh_c
            dg[:, 2 * hs:3 * hs] = dc * c_prev
            dg[:, :3 * hs] *= gates * (1.0 - gates)
            dg[:, 3 * hs:] = dc * i * (1.0 - cc ** 2)
            total += dg
            dh_next = dg @ self.r
            dc_next = dc * f
        return total, dh_next, dc_next


def _start_state(z: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    state = np.tanh(z @ weight.T + bias)
    half = state.shape[1] // 2
    return state[:, :half], state[:, half:]


def _start_gradient(dh0: np.ndarray, dc0: np.ndarray, h0: np.ndarray, c0: np.ndarray,
                    weight: np.ndarray) -> np.ndarray:
    grad: np.ndarray = np.concatenate([dh0 * (1.0 - h0 ** 2), dc0 * (1.0 - c0 ** 2)], axis=1) @ weight
    return grad


def _only(nodes: list[Node], op: str, path: Path) -> Node:
    found = [node for node in nodes if node.op_type == op]
    if len(found) != 1:
        raise ValueError(f"{path}: not a decoder genmedia can refine ({len(found)} {op} nodes)")
    return found[0]


def _weight(weights: dict[str, np.ndarray], name: str, path: Path) -> np.ndarray:
    if name not in weights:
        raise ValueError(f"{path}: not a decoder genmedia can refine ({name} missing)")
    return weights[name]


class Differentiable(Protocol):
    """What `refine` needs of a decoder: the gradient of the windows' likelihood on their latents."""

    def nll_gradient(self, z: np.ndarray, tokens: np.ndarray, start: int | np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class FlatDecoder:
    """The flat melody decoder's weights: initial state from z, then one LSTM step per token, fed z."""

    proj: np.ndarray  # (2H, cond): z -> tanh -> (h0, c0)
    proj_bias: np.ndarray
    embed: np.ndarray  # (vocab + 1, E), the last row the start token
    lstm: Lstm  # inputs: the previous token's embedding, then z
    out: np.ndarray  # (H, vocab)
    out_bias: np.ndarray

    @classmethod
    def read(cls, init_path: Path, step_path: Path) -> FlatDecoder:
        """From the decoder_init and decoder_step ONNX files (`ValueError` if they are not shaped as
        genmedia exports a one-layer decoder)."""
        init, _ = graph_weights(init_path.read_bytes())
        step, nodes = graph_weights(step_path.read_bytes())
        lstm = Lstm.of(_only(nodes, "LSTM", step_path), step, step_path)
        decoder = cls(proj=_weight(init, "proj.weight", init_path), proj_bias=_weight(init, "proj.bias", init_path),
                      embed=_weight(step, "embed.weight", step_path), lstm=lstm,
                      out=_weight(step, _only(nodes, "MatMul", step_path).inputs[1], step_path),
                      out_bias=_weight(step, "out.bias", step_path))
        hidden = lstm.hidden
        if (decoder.proj.shape[0] != 2 * hidden or decoder.out.shape[0] != hidden
                or lstm.w.shape[1] != decoder.embed.shape[1] + decoder.proj.shape[1]):
            raise ValueError(f"{step_path}: not a decoder genmedia can refine (unexpected weight shapes)")
        return decoder

    @cached_property
    def _token_gates(self) -> np.ndarray:
        """Each token's contribution to the LSTM's gates (vocab + 1, 4H)."""
        table: np.ndarray = self.embed @ self.lstm.w[:, :self.embed.shape[1]].T
        return table

    def nll_gradient(self, z: np.ndarray, tokens: np.ndarray, start: int | np.ndarray) -> np.ndarray:
        """d/dz of each window's teacher-forced negative log-likelihood (summed over its steps);
        `start`: the token fed before each window's first (one for all, or one per window)."""
        n, steps = tokens.shape
        w_z = self.lstm.w[:, self.embed.shape[1]:]
        z_in = z @ w_z.T
        prev = np.concatenate([np.broadcast_to(np.asarray(start), (n,))[:, None], tokens[:, :-1]], axis=1)
        h0, c0 = _start_state(z, self.proj, self.proj_bias)
        cache = self.lstm.forward([self._token_gates[prev[:, t]] + z_in for t in range(steps)], h0, c0)
        h = np.stack([step[-1] for step in cache])  # (steps, n, H)
        logits = h @ self.out + self.out_bias
        p = np.exp(logits - logits.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        p[np.arange(steps)[:, None], np.arange(n)[None, :], tokens.T] -= 1.0
        dgates, dh0, dc0 = self.lstm.backward(cache, p @ self.out.T)
        grad: np.ndarray = dgates @ w_z + _start_gradient(dh0, dc0, h0, c0, self.proj)
        return grad


@dataclass(frozen=True)
class HierarchicalDecoder:
    """The conductor (z -> initial state, then one LSTM step per bar fed z -> a linear, or for models
    not trained in stages tanh, embedding per bar) and the flat bar decoder it conditions."""

    init: np.ndarray  # (2H, latent)
    init_bias: np.ndarray
    lstm: Lstm  # input: z at every bar
    out: np.ndarray  # (H, bar embedding)
    out_bias: np.ndarray
    out_tanh: bool
    bars: int
    bar: FlatDecoder

    @classmethod
    def read(cls, conductor_path: Path, init_path: Path, step_path: Path, *, bars: int) -> HierarchicalDecoder:
        weights, nodes = graph_weights(conductor_path.read_bytes())
        lstm = Lstm.of(_only(nodes, "LSTM", conductor_path), weights, conductor_path)
        decoder = cls(init=_weight(weights, "init.weight", conductor_path),
                      init_bias=_weight(weights, "init.bias", conductor_path), lstm=lstm,
                      out=_weight(weights, _only(nodes, "MatMul", conductor_path).inputs[1], conductor_path),
                      out_bias=_weight(weights, "out.bias", conductor_path),
                      out_tanh=bool(nodes) and nodes[-1].op_type == "Tanh", bars=bars,
                      bar=FlatDecoder.read(init_path, step_path))
        if (decoder.init.shape != (2 * lstm.hidden, lstm.w.shape[1]) or decoder.out.shape[0] != lstm.hidden
                or decoder.out.shape[1] != decoder.bar.proj.shape[1]):
            raise ValueError(f"{conductor_path}: not a conductor genmedia can refine (unexpected weight shapes)")
        return decoder

    def nll_gradient(self, z: np.ndarray, tokens: np.ndarray, start: int | np.ndarray) -> np.ndarray:
        """As `FlatDecoder.nll_gradient`, through the conductor: each bar is decoded from its embedding,
        fed the previous bar's last token first (the whole window's `start` before the first bar)."""
        n, steps = tokens.shape
        per_bar = steps // self.bars
        h0, c0 = _start_state(z, self.init, self.init_bias)
        z_in = z @ self.lstm.w.T
        cache = self.lstm.forward([z_in] * self.bars, h0, c0)
        y = np.stack([step[-1] for step in cache])  # (bars, n, H)
        embedding = y @ self.out + self.out_bias
        if self.out_tanh:
            embedding = np.tanh(embedding)
        starts = np.concatenate([np.broadcast_to(np.asarray(start), (n,))[:, None],
                                 tokens[:, per_bar - 1:-1:per_bar]], axis=1)  # (n, bars)
        d_embedding = self.bar.nll_gradient(embedding.transpose(1, 0, 2).reshape(n * self.bars, -1),
                                            tokens.reshape(n * self.bars, per_bar), starts.reshape(-1))
        d_embedding = d_embedding.reshape(n, self.bars, -1).transpose(1, 0, 2)
        if self.out_tanh:
            d_embedding = d_embedding * (1.0 - embedding ** 2)
        dgates, dh0, dc0 = self.lstm.backward(cache, d_embedding @ self.out.T)
        grad: np.ndarray = dgates @ self.lstm.w + _start_gradient(dh0, dc0, h0, c0, self.init)
        return grad


def refine(decoder: Differentiable, tokens: np.ndarray, z0: np.ndarray, *, start_token: int,
           decode: Callable[[np.ndarray], np.ndarray], iterations: int = ITERATIONS) -> np.ndarray:
    """Latents (B, latent) from which `decode` (the model's greedy decoder, float32 latents -> tokens)
    writes `tokens` (B, steps) back as closely as can be found within `iterations` Adam steps from `z0`
    on `decoder`'s gradient (see the module docstring). Deterministic."""
    z0 = np.asarray(z0, dtype=np.float64)
    tokens = np.asarray(tokens, dtype=np.int64)
    z, best = z0.copy(), z0.copy()
    best_acc = np.full(len(z), -1.0)
    m, v = np.zeros_like(z), np.zeros_like(z)
    beta1, beta2 = 0.9, 0.999
    active = np.ones(len(z), dtype=bool)
    for step in range(iterations + 1):
        if step % CHECK_EVERY == 0 or step == iterations:
            acc = (decode(z[active].astype(np.float32)) == tokens[active]).mean(1)
            idx = np.flatnonzero(active)
            better = acc > best_acc[idx]
            best[idx[better]], best_acc[idx[better]] = z[idx[better]], acc[better]
            active[idx[acc >= 1.0]] = False
            if not active.any() or step == iterations:
                break
        g = decoder.nll_gradient(z[active].astype(np.float32), tokens[active], start_token)
        m[active] = beta1 * m[active] + (1 - beta1) * g
        v[active] = beta2 * v[active] + (1 - beta2) * g ** 2
        m_hat = m[active] / (1 - beta1 ** (step + 1))
        v_hat = v[active] / (1 - beta2 ** (step + 1))
        z[active] -= LEARNING_RATE * m_hat / (np.sqrt(v_hat) + 1e-8)
    out: np.ndarray = best.astype(np.float32)
    return out

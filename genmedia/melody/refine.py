"""Refining the encoder's latent: a few gradient steps on z so that the decoder writes the melody back.

A VAE's encoder is amortised: one network guesses z for every melody, and its guess can fall short
of what the decoder can do (Cremer et al. 2018's "amortisation gap"; Kim et al. 2018 refine the
guess by gradient steps, as here). For the shipped 2-bar model the gap is most of the error on
dense tunes: fiddle reels of 20 or more notes per 2 bars came back at 0.5-0.6 per-step accuracy from
the encoder's mean, and for each of them a z exists, close to that mean, that the decoder writes back
exactly. This module finds it at run time, without torch: the flat decoder's LSTM is run forward
and back through time in numpy (its weights read from the model's ONNX files), and Adam moves z
to lower the teacher-forced negative log-likelihood of the melody. The z kept is the one whose greedy
decoding by the model itself (ONNX Runtime) matches the melody best (the encoder's mean counts too,
so refining never does worse by that measure); it stops early once a window comes back exactly.

Flat decoders only (the 2-bar model); a hierarchical model's conductor is not differentiated here,
so `refinable` is False and its encoder's means are used as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genmedia.onnxfile import Node, graph_weights

ITERATIONS = 60  # Adam steps at most; on held-out dense fiddle windows 20 steps took 0.51 to 0.98
CHECK_EVERY = 5  # greedy decodes between steps, to keep the best z and stop early
LEARNING_RATE = 0.05


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 0.5 * (1.0 + np.tanh(0.5 * x))
    return out


@dataclass(frozen=True)
class FlatDecoder:
    """The flat melody decoder's weights: initial state from z, then one LSTM step per token."""

    proj: np.ndarray  # (2H, latent): z -> tanh -> (h0, c0)
    proj_bias: np.ndarray
    embed: np.ndarray  # (vocab + 1, E), the last row the start token
    w: np.ndarray  # (4H, E + latent), gate blocks in ONNX's order: input, output, forget, cell
    r: np.ndarray  # (4H, H)
    bias: np.ndarray  # (4H,)
    out: np.ndarray  # (H, vocab)
    out_bias: np.ndarray

    @classmethod
    def read(cls, init_path: Path, step_path: Path) -> FlatDecoder:
        """From the decoder_init and decoder_step ONNX files (`ValueError` if they are not shaped as
        genmedia exports a one-layer flat decoder)."""
        init, _ = graph_weights(init_path.read_bytes())
        step, nodes = graph_weights(step_path.read_bytes())
        lstm = _only(nodes, "LSTM", step_path)
        matmul = _only(nodes, "MatMul", step_path)
        try:
            w, r, b = (step[name] for name in lstm.inputs[1:4])
            decoder = cls(proj=init["proj.weight"], proj_bias=init["proj.bias"], embed=step["embed.weight"],
                          w=w[0], r=r[0], bias=b[0, :b.shape[1] // 2] + b[0, b.shape[1] // 2:],
                          out=step[matmul.inputs[1]], out_bias=step["out.bias"])
        except (KeyError, IndexError) as error:
            raise ValueError(f"{step_path}: not a decoder genmedia can refine ({error})") from None
        hidden = decoder.r.shape[1]
        if (w.shape[0] != 1 or decoder.w.shape[0] != 4 * hidden or decoder.proj.shape[0] != 2 * hidden
                or decoder.out.shape[0] != hidden
                or decoder.w.shape[1] != decoder.embed.shape[1] + decoder.proj.shape[1]):
            raise ValueError(f"{step_path}: not a decoder genmedia can refine (unexpected weight shapes)")
        return decoder

    @property
    def hidden(self) -> int:
        return int(self.r.shape[1])

    def start(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        state = np.tanh(z @ self.proj.T + self.proj_bias)
        return state[:, :self.hidden], state[:, self.hidden:]

    def cell(self, prev: np.ndarray, z_in: np.ndarray, h: np.ndarray,
             c: np.ndarray) -> tuple[np.ndarray, ...]:
        """One step: gates, new cell and hidden state (`z_in`: z times the LSTM's z columns, precomputed)."""
        g = self.embed[prev] @ self.w[:, :self.embed.shape[1]].T + z_in + h @ self.r.T + self.bias
        hs = self.hidden
        i, o, f = _sigmoid(g[:, :hs]), _sigmoid(g[:, hs:2 * hs]), _sigmoid(g[:, 2 * hs:3 * hs])
        cc = np.tanh(g[:, 3 * hs:])
        c_new = f * c + i * cc
        return i, o, f, cc, c_new, o * np.tanh(c_new)

    def nll_gradient(self, z: np.ndarray, tokens: np.ndarray, start_token: int) -> np.ndarray:
        """d/dz of each window's teacher-forced negative log-likelihood (summed over its steps)."""
        n, steps = tokens.shape
        emb = self.embed.shape[1]
        wz = self.w[:, emb:]
        z_in = z @ wz.T
        h0, c0 = self.start(z)
        prev = np.concatenate([np.full((n, 1), start_token), tokens[:, :-1]], axis=1)
        h, c = h0, c0
        cache = []
        for t in range(steps):
            i, o, f, cc, c_new, h_new = self.cell(prev[:, t], z_in, h, c)
            cache.append((i, o, f, cc, c, c_new, h_new))
            h, c = h_new, c_new
        grad_z = np.zeros_like(z)
        dh_next = np.zeros_like(h0)
        dc_next = np.zeros_like(c0)
        rows = np.arange(n)
        for t in reversed(range(steps)):
            i, o, f, cc, c_prev, c_t, h_t = cache[t]
            logits = h_t @ self.out + self.out_bias
            p = np.exp(logits - logits.max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)
            p[rows, tokens[:, t]] -= 1.0
            dh = p @ self.out.T + dh_next
            tanh_c = np.tanh(c_t)
            dc = dh * o * (1.0 - tanh_c ** 2) + dc_next
            dg = np.concatenate([dc * cc * i * (1.0 - i), dh * tanh_c * o * (1.0 - o), dc * c_prev * f * (1.0 - f),
                                 dc * i * (1.0 - cc ** 2)], axis=1)
            grad_z += dg @ wz
            dh_next = dg @ self.r
            dc_next = dc * f
        h0_c0 = np.concatenate([dh_next * (1.0 - h0 ** 2), dc_next * (1.0 - c0 ** 2)], axis=1)
        grad: np.ndarray = grad_z + h0_c0 @ self.proj
        return grad


def _only(nodes: list[Node], op: str, path: Path) -> Node:
    found = [node for node in nodes if node.op_type == op]
    if len(found) != 1:
        raise ValueError(f"{path}: not a decoder genmedia can refine ({len(found)} {op} nodes)")
    return found[0]


def refine(decoder: FlatDecoder, tokens: np.ndarray, z0: np.ndarray, *, start_token: int,
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
        g = decoder.nll_gradient(z[active], tokens[active], start_token)
        m[active] = beta1 * m[active] + (1 - beta1) * g
        v[active] = beta2 * v[active] + (1 - beta2) * g ** 2
        m_hat = m[active] / (1 - beta1 ** (step + 1))
        v_hat = v[active] / (1 - beta2 ** (step + 1))
        z[active] -= LEARNING_RATE * m_hat / (np.sqrt(v_hat) + 1e-8)
    out: np.ndarray = best.astype(np.float32)
    return out

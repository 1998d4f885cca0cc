r"""Peephole connections (Gers & Schmidhuber 2000): the gates also look at the cell state.

With p_i, p_f, p_o (H,) diagonal peephole weights (no p_f under CIFG), the gate pre-activations of
`lstm_variant` gain one term each; i and f see the previous cell, o sees the new one:

    i_t: … + p_i ⊙ c_{t-1}      f_t: … + p_f ⊙ c_{t-1}      o_t: … + p_o ⊙ c̃_t

Parameter layout: one (n, H) tensor, rows (i, f, o), or (i, o) with the coupled gate.
"""
import torch


def rows(cifg: bool) -> tuple[str, ...]:
    """The gates that have a peephole row, in the order of the (n, H) parameter."""
    return ("i", "o") if cifg else ("i", "f", "o")


def term(p: torch.Tensor, gate: str, c: torch.Tensor, cifg: bool) -> torch.Tensor:
    """p_gate ⊙ c: (B, H). `p` is the (n, H) peephole parameter."""
    return p[rows(cifg).index(gate)] * c

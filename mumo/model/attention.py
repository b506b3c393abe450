"""BERT-style multi-head attention (docs/model.md §2.2), one module form for self- and cross-attention."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class Attention(nn.Module):
    """LayerNorm_ε=1e-8(Dropout(O·softmax(QKᵀ/√d + mask)·V) + query), Q/K/V/O with bias, attention dropout.

    With `additive_mask_bug` the 0/1 key mask is added to the logits as the paper's code does, so padded keys
    still receive attention (real keys get a +1 bonus); otherwise padded keys are excluded.
    """

    def __init__(
        self,
        hidden: int,
        n_heads: int,
        attention_dropout: float,
        hidden_dropout: float,
        additive_mask_bug: bool,
    ):
        super().__init__()
        self.n_heads, self.attention_dropout, self.additive_mask_bug = (
            n_heads,
            attention_dropout,
            additive_mask_bug,
        )
        self.query, self.key, self.value, self.output = (nn.Linear(hidden, hidden) for _ in range(4))
        self.dropout = nn.Dropout(hidden_dropout)
        self.norm = nn.LayerNorm(hidden, eps=1e-8)

    def _heads(self, x: Tensor) -> Tensor:
        return x.view(*x.shape[:2], self.n_heads, -1).transpose(1, 2)

    def forward(self, query: Tensor, context: Tensor, context_mask: Tensor) -> Tensor:
        """query [B, Lq, H] attends over context [B, Lk, H] whose real positions are context_mask [B, Lk]."""
        q, k, v = (
            self._heads(self.query(query)),
            self._heads(self.key(context)),
            self._heads(self.value(context)),
        )
        if self.additive_mask_bug:
            bias = context_mask.to(q.dtype)
        else:  # a finite minimum rather than −inf: a row with no real key then stays finite instead of NaN
            bias = torch.zeros_like(context_mask, dtype=q.dtype).masked_fill(
                ~context_mask, torch.finfo(q.dtype).min
            )
        ctx = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=bias[:, None, None, :],
            dropout_p=self.attention_dropout if self.training else 0.0,
        )
        ctx = ctx.transpose(1, 2).reshape(query.shape[0], query.shape[1], -1)
        return self.norm(self.dropout(self.output(ctx)) + query)

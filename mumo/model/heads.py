"""Pretraining head and masked-token objective (docs/model.md §2.6); poolers, task heads and losses (§2.7)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mumo.model.batch import MASK_ID, special_token_ids
from mumo.model.config import MuMoConfig

IGNORE_INDEX = -100


# --------------------------------------------------------------------------------------------------
# Pretraining


def mask_tokens(
    tokens: Tensor, vocab_size: int, generator: torch.Generator, mask_prob: float = 0.15
) -> tuple[Tensor, Tensor]:
    """BERT masking of a [B, L] token batch: returns (inputs, labels), labels = IGNORE_INDEX where not selected.

    Each non-special token is selected with p = mask_prob; a sequence with a maskable token but no selection
    gets one forced, so every such sequence contributes to the loss. Of the selected: 80 % → [MASK], 10 % → a
    random non-special id, 10 % kept. Special tokens (incl. [PAD]) are never selected. The random draws use
    `generator` (on its own device), so masking is reproducible from a seed.
    """
    shape, device = tokens.shape, generator.device
    special = torch.tensor(special_token_ids(vocab_size), device=tokens.device)
    maskable = ~torch.isin(tokens, special)
    draw = lambda: torch.rand(shape, generator=generator, device=device).to(tokens.device)  # noqa: E731
    selected = (draw() < mask_prob) & maskable
    # force one uniformly among the maskable positions of each sequence left without a selection
    forced = torch.where(maskable, draw(), -1.0).argmax(dim=1)
    need = maskable.any(dim=1) & ~selected.any(dim=1)
    selected[need, forced[need]] = True

    roll = draw()
    random_ids = torch.randint(4, vocab_size - 3, shape, generator=generator, device=device).to(tokens.device)
    inputs = torch.where(selected & (roll < 0.8), MASK_ID, tokens)
    inputs = torch.where(selected & (roll >= 0.8) & (roll < 0.9), random_ids, inputs)
    return inputs, torch.where(selected, tokens, IGNORE_INDEX)


def mlm_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Cross-entropy on the selected positions only (labels != IGNORE_INDEX)."""
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=IGNORE_INDEX
    )


class PretrainHead(nn.Module):
    """Linear(H → vocab), untied from the token embedding; PyTorch default init."""

    def __init__(self, config: MuMoConfig) -> None:
        super().__init__()
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)

    def forward(self, hidden: Tensor, token_mask: Tensor, atoms_sum: Tensor | None) -> Tensor:
        return self.decoder(hidden)

    def loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        return mlm_loss(logits, labels)

    def predict(self, logits: Tensor) -> Tensor:
        return logits.float().softmax(dim=-1)


# --------------------------------------------------------------------------------------------------
# Fine-tuning


def _last_index(token_mask: Tensor, reads_pad: bool) -> Tensor:
    """Position read by the last-position pooler: L−1 (the paper, often [PAD]) or the last real token ([SEP])."""
    if reads_pad:
        return torch.full(token_mask.shape[:1], token_mask.shape[1] - 1, device=token_mask.device)
    return token_mask.sum(dim=1) - 1


class Pooler(nn.Module):
    """cls: tanh(Linear(h[:,0])); bipooler: + tanh(Linear(h[:,last])); mixpooler: + mean over positions.

    `graph_sum` appends the sum of the molecule's final atom states.
    """

    def __init__(self, config: MuMoConfig) -> None:
        super().__init__()
        hidden, self.kind, self.graph_sum = config.hidden_size, config.pooler, config.graph_sum
        self.reads_pad, self.mean_reads_pad = config.bipooler_reads_pad, config.mixpooler_mean_reads_pad
        self.cls = nn.Linear(hidden, hidden)
        if self.kind != "cls":
            self.last = nn.Linear(hidden, hidden)
        self.out_dim = hidden * ({"cls": 1, "bipooler": 2, "mixpooler": 3}[self.kind] + self.graph_sum)

    def forward(self, hidden: Tensor, token_mask: Tensor, atoms_sum: Tensor | None) -> Tensor:
        pooled = [torch.tanh(self.cls(hidden[:, 0]))]
        if self.kind != "cls":
            last = hidden[
                torch.arange(hidden.shape[0], device=hidden.device), _last_index(token_mask, self.reads_pad)
            ]
            pooled.append(torch.tanh(self.last(last)))
        if self.kind == "mixpooler":
            if self.mean_reads_pad:
                pooled.append(hidden.mean(dim=1))
            else:
                keep = token_mask[..., None].to(hidden.dtype)
                pooled.append((hidden * keep).sum(dim=1) / keep.sum(dim=1))
        if self.graph_sum:
            pooled.append(atoms_sum.to(hidden.dtype))
        return torch.cat(pooled, dim=-1)


class PropertyHead(nn.Module):
    """Pooler then one Linear (no dropout): 2 logits (classification), T logits (multilabel) or T values.

    Pooler and output layer: Xavier-uniform weights, zero biases.
    """

    def __init__(self, config: MuMoConfig) -> None:
        super().__init__()
        self.task, self.nan_as_negative = config.head, config.nan_labels_as_negative
        self.pooler = Pooler(config)
        self.out = nn.Linear(self.pooler.out_dim, 2 if self.task == "classification" else config.num_tasks)
        for layer in self.modules():
            if isinstance(layer, nn.Linear):
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)

    def forward(self, hidden: Tensor, token_mask: Tensor, atoms_sum: Tensor | None) -> Tensor:
        return self.out(self.pooler(hidden, token_mask, atoms_sum))

    def loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Labels [B] or [B, T] (regression: already scaled), NaN where missing."""
        logits = logits.float()
        labels = labels.to(logits.device, torch.float32).reshape(logits.shape[0], -1)
        if self.task == "multilabel" and self.nan_as_negative:
            return F.binary_cross_entropy_with_logits(logits, torch.nan_to_num(labels, nan=0.0))
        present = ~torch.isnan(labels)
        if not present.any():  # a batch without any label: zero loss (not NaN), gradients still flow to zero
            return logits.sum() * 0.0
        if self.task == "classification":
            return F.cross_entropy(logits[present[:, 0]], labels[present].long())
        target = torch.nan_to_num(labels, nan=0.0)
        if self.task == "multilabel":
            losses = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        else:
            losses = F.mse_loss(logits, target, reduction="none")
        return (losses * present).sum() / present.sum().clamp(min=1)

    def predict(self, logits: Tensor) -> Tensor:
        """P(class 1) [B] for classification, probabilities [B, T] for multilabel, raw outputs otherwise."""
        if self.task == "classification":
            return logits.float().softmax(dim=-1)[:, 1]
        return torch.sigmoid(logits.float()) if self.task == "multilabel" else logits


class TargetScaler(nn.Module):
    """Z-scores regression targets with training-split statistics; stored as buffers with the model weights.

    Identity until `fit`. NaN targets are ignored by `fit` and stay NaN.
    """

    def __init__(self, num_tasks: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(num_tasks))
        self.register_buffer("std", torch.ones(num_tasks))

    @torch.no_grad()
    def fit(self, targets: Tensor | np.ndarray) -> TargetScaler:
        y = torch.as_tensor(np.asarray(targets, dtype=np.float64)).reshape(-1, self.mean.numel())
        present = ~torch.isnan(y)
        count = present.sum(0).clamp(min=1)
        mean = torch.nan_to_num(y).sum(0) / count
        var = (torch.nan_to_num(y - mean) ** 2).sum(0) / count
        std = var.sqrt()
        self.mean.copy_(mean)
        self.std.copy_(torch.where(std > 0, std, torch.ones_like(std)))  # constant targets: only centred
        return self

    def transform(self, y: Tensor) -> Tensor:
        return (y - self.mean) / self.std

    def inverse_transform(self, y: Tensor) -> Tensor:
        return y * self.std + self.mean

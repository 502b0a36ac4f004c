# Copyright 2026 The m2fnet Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""Feature-extractor losses of M2FNet (Sec. 3.3): adaptive-margin triplet, variance and covariance terms."""

from dataclasses import dataclass

import torch
from transformers.utils import ModelOutput


IGNORE_INDEX = -100
MINING_STRATEGIES = ("all", "random")


def _check_pair(name_x: str, x: torch.Tensor, name_y: str, y: torch.Tensor) -> None:
    if x.dim() != 2:
        raise ValueError(f"`{name_x}` must be 2-D (num_triplets, hidden_size) (got shape {tuple(x.shape)})")
    if x.shape != y.shape:
        raise ValueError(
            f"`{name_x}` and `{name_y}` must have the same shape (got {tuple(x.shape)} and {tuple(y.shape)})"
        )


def _check_matrix(z: torch.Tensor) -> None:
    if z.dim() != 2:
        raise ValueError(f"`z` must be 2-D (num_samples, hidden_size) (got shape {tuple(z.shape)})")


def euclidean_similarity(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""
    The "Euclidean distance based similarity" D^s of the adaptive-margin triplet loss (M2FNet, eq. 10-11), for
    row-paired embeddings:

        D^s(x, y) = || x / ||x||_2 - y / ||y||_2 ||_2 / 2

    i.e. the Euclidean distance between the L2-normalised embeddings, halved so that it lies in [0, 1]
    (0 = same direction, 1 = opposite directions).

    # Note: the M2FNet paper (arXiv 2206.02187, Sec. 3.3) only calls D^s "the Euclidean distance based similarity
    # metric" and does not print its formula; neither could we find it in Ha & Blanz 2021 ("Deep Ranking with
    # Adaptive Margin Triplet Loss", arXiv 2107.06187), where the adaptive margin comes from. The definition above
    # is our reading: the paper's margins m_sim = 2 / (1 + exp(4 D)) and m_dissim = 2 / (1 + exp(-4 D + 4)) only
    # span their intended range (about 0.036 ... 1) when D lies in [0, 1], which the halved distance between
    # unit vectors does.

    Args:
        x (`torch.FloatTensor` of shape `(num_pairs, hidden_size)`):
            First embedding of each pair (not necessarily normalised).
        y (`torch.FloatTensor` of shape `(num_pairs, hidden_size)`):
            Second embedding of each pair.

    Returns:
        `torch.FloatTensor` of shape `(num_pairs,)`: D^s for every row pair, in [0, 1].
    """
    _check_pair("x", x, "y", y)
    x = torch.nn.functional.normalize(x, p=2.0, dim=-1)
    y = torch.nn.functional.normalize(y, p=2.0, dim=-1)
    # `vector_norm` has a zero (not NaN) gradient where x == y, so identical embeddings are safe.
    return torch.linalg.vector_norm(x - y, ord=2, dim=-1) / 2


def adaptive_margin_triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    r"""
    Adaptive-margin triplet loss L_AMT (M2FNet, arXiv 2206.02187, eq. 9-11), averaged over triplets:

        L_AMT  = mean_i max(0, D^s(a_i, p_i) - (D^s(a_i, n_i) + D^s(p_i, n_i)) / 2 + m_AM,i)
        m_AM   = m_sim + m_dissim
        m_sim  = 2 / (1 + exp(4 * D^s(a, p)))
        m_dissim = 2 / (1 + exp(-4 * D^s(a, n) + 4))

    with D^s given by [`euclidean_similarity`].

    # Note: the paper prints eq. 10 without a hinge; we apply the usual triplet hinge max(0, .) per triplet (as in
    # the standard triplet loss of FaceNet, arXiv 1503.03832), so a triplet that satisfies its margin contributes
    # nothing.
    # With D^s as defined in `euclidean_similarity` the hinge is in fact never reached: the bracket has a minimum of
    # about 0.2898 over all unit-vector geometries (at D^s(a,p) ~ 0.551, D^s(a,n) ~ 0.472, D^s(p,n) ~ 0.880, found
    # numerically), so every triplet contributes and the loss never drops below ~0.29.
    #
    # Note: the margins are treated as constants (computed from the current embeddings, then detached). In the
    # source of the loss (Ha & Blanz 2021, arXiv 2107.06187, abstract) "the adaptive margins only need to be
    # computed once before the training", i.e. they are not optimised. Differentiating through them would also
    # reverse the push on negatives: d/dD^s(a,n) of [-D^s(a,n) / 2 + m_dissim] = -1/2 + 8 s (1 - s) with
    # s = sigmoid(4 D^s(a,n) - 4) is positive for D^s(a,n) > ~0.34, so the in-graph loss would pull those
    # negatives *towards* the anchor. With detached margins, gradients flow only through the three D^s terms.

    Args:
        anchor (`torch.FloatTensor` of shape `(num_triplets, hidden_size)`):
            Anchor embeddings Z_a.
        positive (`torch.FloatTensor` of shape `(num_triplets, hidden_size)`):
            Positive embeddings Z_p (same class as the anchor, row by row).
        negative (`torch.FloatTensor` of shape `(num_triplets, hidden_size)`):
            Negative embeddings Z_n (another class than the anchor, row by row).

    Returns:
        `torch.FloatTensor` of shape `()`: the mean hinged loss. With zero triplets it is a zero tensor that is
        still connected to the graph (never NaN).
    """
    _check_pair("anchor", anchor, "positive", positive)
    _check_pair("anchor", anchor, "negative", negative)
    if anchor.shape[0] == 0:
        return (anchor.sum() + positive.sum() + negative.sum()) * 0
    d_ap = euclidean_similarity(anchor, positive)
    d_an = euclidean_similarity(anchor, negative)
    d_pn = euclidean_similarity(positive, negative)
    # The adaptive margins are constants for the optimiser (see the note above).
    margin_sim = (2 / (1 + torch.exp(4 * d_ap))).detach()
    margin_dissim = (2 / (1 + torch.exp(-4 * d_an + 4))).detach()
    losses = d_ap - (d_an + d_pn) / 2 + margin_sim + margin_dissim
    return torch.clamp(losses, min=0).mean()


def variance_loss(z: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    r"""
    VICReg variance term (M2FNet eq. 12; Bardes et al., ICLR 2022) of one embedding matrix Z:

        L_Var(Z) = (1 / d) * sum_j max(0, 1 - sqrt(Var(Z[:, j]) + eps))

    with the unbiased variance (normalised by N - 1). It pushes the standard deviation of every dimension over
    the batch up to at least 1.

    Args:
        z (`torch.FloatTensor` of shape `(num_samples, hidden_size)`):
            The embedding matrix Z (N rows, d columns).
        eps (`float`, *optional*, defaults to 1e-4):
            Added to the variance before the square root, for numerical stability.

    Returns:
        `torch.FloatTensor` of shape `()`. When N < 2 the variance is undefined and a zero tensor connected to the
        graph (`z.sum() * 0`) is returned.
    """
    _check_matrix(z)
    if z.shape[0] < 2:
        return z.sum() * 0
    std = torch.sqrt(z.var(dim=0, unbiased=True) + eps)
    return torch.clamp(1 - std, min=0).mean()


def covariance_loss(z: torch.Tensor) -> torch.Tensor:
    r"""
    VICReg covariance term (M2FNet eq. 13; Bardes et al., ICLR 2022) of one embedding matrix Z:

        C(Z)      = (Z - mean(Z))^T (Z - mean(Z)) / (N - 1)
        L_Cov(Z)  = (1 / d) * sum_{i != j} C(Z)[i, j]^2

    It decorrelates the d embedding dimensions.

    Args:
        z (`torch.FloatTensor` of shape `(num_samples, hidden_size)`):
            The embedding matrix Z (N rows, d columns).

    Returns:
        `torch.FloatTensor` of shape `()`. When N < 2 the covariance is undefined and a zero tensor connected to the
        graph (`z.sum() * 0`) is returned.
    """
    _check_matrix(z)
    num_samples, hidden_size = z.shape
    if num_samples < 2:
        return z.sum() * 0
    centred = z - z.mean(dim=0, keepdim=True)
    cov = centred.T @ centred / (num_samples - 1)
    off_diagonal = cov.pow(2).sum() - torch.diagonal(cov).pow(2).sum()
    return off_diagonal / hidden_size


def mine_triplets(
    labels: torch.Tensor, strategy: str = "all", generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""
    Mine (anchor, positive, negative) index triplets from the labels of a batch.

    A triplet (a, p, n) is valid when `labels[a] == labels[p]`, `a != p` and `labels[n] != labels[a]`. Samples
    labelled -100 are never used as anchor, positive or negative.

    Args:
        labels (`torch.LongTensor` of shape `(batch_size,)`):
            Class id of every sample, -100 to ignore a sample.
        strategy (`str`, *optional*, defaults to `"all"`):
            `"all"`: every valid triplet, in lexicographic (a, p, n) order (O(batch_size^3) memory for the boolean
            mask). `"random"`: one triplet per anchor that has at least one positive and one negative, the positive
            and the negative drawn uniformly at random with `generator`.
        generator (`torch.Generator`, *optional*):
            Random generator for `"random"` (on the device of `labels`); ignored by `"all"`.

    Returns:
        `tuple(torch.LongTensor)` of three tensors of shape `(num_triplets,)`: anchor, positive and negative indices
        into the batch. All three are empty when no valid triplet exists (one class in the batch, one sample per
        class, or everything ignored).
    """
    if strategy not in MINING_STRATEGIES:
        raise ValueError(f"`strategy` must be one of {MINING_STRATEGIES} (got {strategy!r})")
    if labels.dim() != 1:
        raise ValueError(f"`labels` must be 1-D (batch_size,) (got shape {tuple(labels.shape)})")
    if labels.is_floating_point() or labels.is_complex():
        raise ValueError(f"`labels` must hold integer class ids (got dtype {labels.dtype})")
    device = labels.device
    batch_size = labels.shape[0]
    valid = labels != IGNORE_INDEX
    pair_valid = valid[:, None] & valid[None, :]
    same = labels[:, None] == labels[None, :]
    not_self = ~torch.eye(batch_size, dtype=torch.bool, device=device)
    positive_mask = same & not_self & pair_valid  # (a, p)
    negative_mask = ~same & pair_valid  # (a, n)

    if strategy == "all":
        triplet_mask = positive_mask[:, :, None] & negative_mask[:, None, :]  # (a, p, n)
        anchor_idx, positive_idx, negative_idx = triplet_mask.nonzero(as_tuple=True)
        return anchor_idx, positive_idx, negative_idx

    # "random": keep anchors with at least one positive and one negative, then draw one of each uniformly.
    anchors = (positive_mask.any(dim=1) & negative_mask.any(dim=1)).nonzero(as_tuple=True)[0]
    if anchors.numel() == 0:
        empty = torch.empty(0, dtype=torch.long, device=device)
        return empty, empty.clone(), empty.clone()
    # The argmax of uniform noise restricted to the allowed columns is a uniform draw among them.
    noise = torch.rand((2, anchors.numel(), batch_size), generator=generator, device=device)
    positive_idx = noise[0].masked_fill(~positive_mask[anchors], -1.0).argmax(dim=1)
    negative_idx = noise[1].masked_fill(~negative_mask[anchors], -1.0).argmax(dim=1)
    return anchors, positive_idx, negative_idx


@dataclass
class M2FNetTripletLossOutput(ModelOutput):
    """
    Output of [`M2FNetTripletLoss`].

    Args:
        loss (`torch.FloatTensor` of shape `()`):
            L_FE = triplet_weight * L_AMT + covariance_weight * L_Cov + variance_weight * L_Var.
        triplet_loss (`torch.FloatTensor` of shape `()`):
            The unweighted adaptive-margin triplet loss L_AMT (mean over triplets).
        variance_loss (`torch.FloatTensor` of shape `()`):
            The unweighted variance loss, summed over Z_a, Z_p and Z_n.
        covariance_loss (`torch.FloatTensor` of shape `()`):
            The unweighted covariance loss, summed over Z_a, Z_p and Z_n.
        num_triplets (`torch.LongTensor` of shape `()`):
            Number of triplets the loss was computed on (after `max_triplets` subsampling).
    """

    loss: torch.FloatTensor | None = None
    triplet_loss: torch.FloatTensor | None = None
    variance_loss: torch.FloatTensor | None = None
    covariance_loss: torch.FloatTensor | None = None
    num_triplets: torch.LongTensor | None = None


class M2FNetTripletLoss(torch.nn.Module):
    r"""
    Training loss of the M2FNet utterance-level feature extractors (audio CNN, visual network), paper Sec. 3.3:

        L_FE = λ1 * L_AMT(Z_a, Z_p, Z_n) + λ2 * sum_{Z in (Z_a, Z_p, Z_n)} L_Cov(Z)
               + λ3 * sum_{Z in (Z_a, Z_p, Z_n)} L_Var(Z)

    with λ1 = 20, λ2 = 5, λ3 = 1 in the paper. Triplets are mined from the batch labels by [`mine_triplets`], and
    Z_a, Z_p, Z_n are the embeddings gathered at the anchor, positive and negative indices (one row per triplet).
    See [`adaptive_margin_triplet_loss`], [`variance_loss`] and [`covariance_loss`] for the terms.

    Args:
        triplet_weight, covariance_weight, variance_weight (`float`, *optional*, defaults to 20.0, 5.0 and 1.0):
            λ1, λ2 and λ3: the weights of the adaptive-margin triplet, covariance and variance losses.
        variance_eps (`float`, *optional*, defaults to 1e-4):
            Epsilon added to the variance before the square root in the variance loss.
        mining_strategy (`str`, *optional*, defaults to `"all"`):
            `"all"` (every valid triplet of the batch) or `"random"` (one random triplet per anchor).
        max_triplets (`int`, *optional*):
            If set, at most this many triplets are kept, drawn uniformly without replacement (with the `generator`
            passed to `forward`), to bound memory.

    Example:

    ```python
    >>> import torch
    >>> from modeling_m2fnet.losses import M2FNetTripletLoss
    >>> loss_fn = M2FNetTripletLoss()
    >>> embeddings = torch.randn(6, 300, requires_grad=True)
    >>> out = loss_fn(embeddings, torch.tensor([0, 0, 1, 1, 2, 2]))
    >>> int(out.num_triplets)
    24
    >>> out.loss.backward()

    ```"""

    def __init__(
        self,
        triplet_weight: float = 20.0,
        covariance_weight: float = 5.0,
        variance_weight: float = 1.0,
        variance_eps: float = 1e-4,
        mining_strategy: str = "all",
        max_triplets: int | None = None,
    ):
        super().__init__()
        for name, value in (
            ("triplet_weight", triplet_weight),
            ("covariance_weight", covariance_weight),
            ("variance_weight", variance_weight),
        ):
            # `not (0 <= value < inf)` also rejects NaN.
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
                raise ValueError(f"`{name}` must be a finite number >= 0 (got {value!r})")
        if (
            isinstance(variance_eps, bool)
            or not isinstance(variance_eps, (int, float))
            or not 0 < variance_eps < float("inf")
        ):
            raise ValueError(f"`variance_eps` must be a finite number > 0 (got {variance_eps!r})")
        if mining_strategy not in MINING_STRATEGIES:
            raise ValueError(f"`mining_strategy` must be one of {MINING_STRATEGIES} (got {mining_strategy!r})")
        if max_triplets is not None and (
            isinstance(max_triplets, bool) or not isinstance(max_triplets, int) or max_triplets < 1
        ):
            raise ValueError(f"`max_triplets` must be None or an int >= 1 (got {max_triplets!r})")
        self.triplet_weight = float(triplet_weight)
        self.covariance_weight = float(covariance_weight)
        self.variance_weight = float(variance_weight)
        self.variance_eps = float(variance_eps)
        self.mining_strategy = mining_strategy
        self.max_triplets = max_triplets

    def extra_repr(self) -> str:
        return (
            f"triplet_weight={self.triplet_weight}, covariance_weight={self.covariance_weight}, "
            f"variance_weight={self.variance_weight}, variance_eps={self.variance_eps}, "
            f"mining_strategy={self.mining_strategy!r}, max_triplets={self.max_triplets}"
        )

    def forward(
        self,
        embeddings: torch.Tensor,
        labels: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> M2FNetTripletLossOutput:
        r"""
        Args:
            embeddings (`torch.FloatTensor` of shape `(batch_size, hidden_size)`):
                Projector outputs of the feature extractor (d = 300 in the paper), one row per sample.
            labels (`torch.LongTensor` of shape `(batch_size,)`):
                Class id of every sample, -100 to ignore a sample.
            generator (`torch.Generator`, *optional*):
                Random generator (on the device of `embeddings`) for `"random"` mining and `max_triplets`
                subsampling.

        Returns:
            [`M2FNetTripletLossOutput`]. When the batch holds no valid triplet, every loss is a zero tensor still
            connected to the graph (so `.backward()` works) and `num_triplets` is 0.
        """
        if embeddings.dim() != 2:
            raise ValueError(
                f"`embeddings` must be 2-D (batch_size, hidden_size) (got shape {tuple(embeddings.shape)})"
            )
        if labels.dim() != 1 or labels.shape[0] != embeddings.shape[0]:
            raise ValueError(
                f"`labels` must be 1-D with one entry per row of `embeddings` (got shape {tuple(labels.shape)} for "
                f"`embeddings` of shape {tuple(embeddings.shape)})"
            )
        labels = labels.to(embeddings.device)
        anchor_idx, positive_idx, negative_idx = mine_triplets(labels, self.mining_strategy, generator=generator)
        num_triplets = anchor_idx.shape[0]
        if self.max_triplets is not None and num_triplets > self.max_triplets:
            keep = torch.randperm(num_triplets, generator=generator, device=anchor_idx.device)[: self.max_triplets]
            keep = keep.sort().values
            anchor_idx, positive_idx, negative_idx = anchor_idx[keep], positive_idx[keep], negative_idx[keep]
            num_triplets = self.max_triplets

        if num_triplets == 0:
            zero = embeddings.sum() * 0
            return M2FNetTripletLossOutput(
                loss=zero,
                triplet_loss=zero,
                variance_loss=zero,
                covariance_loss=zero,
                num_triplets=torch.tensor(0, device=embeddings.device),
            )

        z_anchor = embeddings[anchor_idx]
        z_positive = embeddings[positive_idx]
        z_negative = embeddings[negative_idx]
        triplet = adaptive_margin_triplet_loss(z_anchor, z_positive, z_negative)
        variance = sum(variance_loss(z, eps=self.variance_eps) for z in (z_anchor, z_positive, z_negative))
        covariance = sum(covariance_loss(z) for z in (z_anchor, z_positive, z_negative))
        loss = self.triplet_weight * triplet + self.covariance_weight * covariance + self.variance_weight * variance
        return M2FNetTripletLossOutput(
            loss=loss,
            triplet_loss=triplet,
            variance_loss=variance,
            covariance_loss=covariance,
            num_triplets=torch.tensor(num_triplets, device=embeddings.device),
        )


__all__ = [
    "M2FNetTripletLoss",
    "M2FNetTripletLossOutput",
    "adaptive_margin_triplet_loss",
    "covariance_loss",
    "euclidean_similarity",
    "mine_triplets",
    "variance_loss",
]

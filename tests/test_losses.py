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
"""Tests of the feature-extractor losses (adaptive-margin triplet, variance, covariance) against hand-computed values."""

import math

import pytest
import torch

from modeling_m2fnet import losses
from modeling_m2fnet.losses import (
    M2FNetTripletLoss,
    M2FNetTripletLossOutput,
    adaptive_margin_triplet_loss,
    covariance_loss,
    euclidean_similarity,
    mine_triplets,
    variance_loss,
)


def amt_by_hand(d_ap: float, d_an: float, d_pn: float) -> float:
    """Eq. 10-11 of the paper with the hinge, written out with `math` (independent of the implementation)."""
    m_sim = 2 / (1 + math.exp(4 * d_ap))
    m_dissim = 2 / (1 + math.exp(-4 * d_an + 4))
    return max(0.0, d_ap - (d_an + d_pn) / 2 + m_sim + m_dissim)


def t(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


# ---------------------------------------------------------------- euclidean_similarity


def test_euclidean_similarity_3_4_5_vectors():
    x = t([[3.0, 4.0], [3.0, 4.0], [3.0, 4.0], [3.0, 4.0]])
    y = t([[6.0, 8.0], [-3.0, -4.0], [4.0, -3.0], [1.0, 0.0]])
    # (3, 4) -> (0.6, 0.8) after L2 normalisation.
    # vs (6, 8): same direction -> 0.
    # vs (-3, -4): opposite -> |(1.2, 1.6)| = 2 -> 2 / 2 = 1.
    # vs (4, -3) -> (0.8, -0.6): diff (-0.2, 1.4), |.| = sqrt(0.04 + 1.96) = sqrt(2) -> sqrt(2) / 2.
    # vs (1, 0): diff (-0.4, 0.8), |.| = sqrt(0.16 + 0.64) = sqrt(0.8) -> sqrt(0.8) / 2.
    expected = t([0.0, 1.0, math.sqrt(2) / 2, math.sqrt(0.8) / 2])
    torch.testing.assert_close(euclidean_similarity(x, y), expected)


def test_euclidean_similarity_identical_rows_have_finite_zero_gradient():
    x = t([[3.0, 4.0]]).requires_grad_()
    y = t([[3.0, 4.0]]).requires_grad_()
    euclidean_similarity(x, y).sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()
    torch.testing.assert_close(x.grad, torch.zeros_like(x))


# ---------------------------------------------------------------- adaptive_margin_triplet_loss


def test_amt_single_triplet_by_hand():
    # a = (1, 0), p = (3, 4) -> (0.6, 0.8), n = (0, 1).
    # D(a, p) = |(0.4, -0.8)| / 2 = sqrt(0.8) / 2 ~ 0.44721
    # D(a, n) = |(1, -1)| / 2     = sqrt(2) / 2   ~ 0.70711
    # D(p, n) = |(0.6, -0.2)| / 2 = sqrt(0.4) / 2 ~ 0.31623
    # m_sim = 2 / (1 + e^{1.78885}) ~ 0.28642, m_dissim = 2 / (1 + e^{1.17157}) ~ 0.47314
    # L = 0.44721 - (0.70711 + 0.31623) / 2 + 0.28642 + 0.47314 ~ 0.69510 > 0: the hinge is active.
    d_ap, d_an, d_pn = math.sqrt(0.8) / 2, math.sqrt(2) / 2, math.sqrt(0.4) / 2
    expected = amt_by_hand(d_ap, d_an, d_pn)
    assert expected == pytest.approx(0.69510, abs=1e-4)
    loss = adaptive_margin_triplet_loss(t([[1.0, 0.0]]), t([[3.0, 4.0]]), t([[0.0, 1.0]]))
    assert loss.shape == ()
    assert loss.item() == pytest.approx(expected, abs=1e-10)


def test_amt_ideal_triplet_by_hand():
    # p identical to a, n opposite: D(a, p) = 0, D(a, n) = D(p, n) = 1.
    # m_sim = 2 / (1 + e^0) = 1, m_dissim = 2 / (1 + e^0) = 1 -> L = 0 - (1 + 1) / 2 + 1 + 1 = 1.
    loss = adaptive_margin_triplet_loss(t([[1.0, 0.0]]), t([[2.0, 0.0]]), t([[-1.0, 0.0]]))
    assert loss.item() == pytest.approx(1.0, abs=1e-12)


def test_amt_is_mean_over_triplets():
    anchor = t([[1.0, 0.0], [1.0, 0.0]])
    positive = t([[3.0, 4.0], [2.0, 0.0]])
    negative = t([[0.0, 1.0], [-1.0, 0.0]])
    first = amt_by_hand(math.sqrt(0.8) / 2, math.sqrt(2) / 2, math.sqrt(0.4) / 2)
    second = 1.0  # the ideal triplet above
    loss = adaptive_margin_triplet_loss(anchor, positive, negative)
    assert loss.item() == pytest.approx((first + second) / 2, abs=1e-10)


def test_amt_hinge_clips_negative_terms_to_zero(monkeypatch):
    # With D^s in [0, 1] the bracket never goes below ~0.29 (see the next test), so the hinge is exercised by
    # stubbing D^s. Calls come in the order (a, p), (a, n), (p, n).
    # Triplet 1: D(a,p) = 0, D(a,n) = D(p,n) = 5 -> m_sim = 1, m_dissim = 2 / (1 + e^-16) ~ 2
    #            -> L = 0 - 5 + 1 + 2 = -2 -> clipped to 0.
    # Triplet 2: D(a,p) = 0.5, D(a,n) = 0.5, D(p,n) = 0.5 -> L = 0.5 - 0.5 + 2/(1+e^2) + 2/(1+e^2) > 0.
    stub_values = iter([t([0.0, 0.5]), t([5.0, 0.5]), t([5.0, 0.5])])
    monkeypatch.setattr(losses, "euclidean_similarity", lambda x, y: next(stub_values))
    rows = t([[1.0, 0.0], [0.0, 1.0]])
    loss = adaptive_margin_triplet_loss(rows, rows, rows)
    expected = (amt_by_hand(0.0, 5.0, 5.0) + amt_by_hand(0.5, 0.5, 0.5)) / 2
    assert amt_by_hand(0.0, 5.0, 5.0) == 0.0
    assert loss.item() == pytest.approx(expected, abs=1e-10)


def test_amt_never_reaches_the_hinge_with_unit_vector_distances():
    # Documents a property of the formulas with D^s in [0, 1]: the bracket is >= ~0.2898 for every geometry.
    generator = torch.Generator().manual_seed(0)
    anchor, positive, negative = torch.randn(3, 4096, 3, generator=generator, dtype=torch.float64)
    per_triplet = torch.stack(
        [adaptive_margin_triplet_loss(anchor[i : i + 1], positive[i : i + 1], negative[i : i + 1]) for i in range(256)]
    )
    assert (per_triplet > 0.28).all()


def test_amt_margins_are_detached():
    # With constant margins the gradient is that of D(a,p) - (D(a,n) + D(p,n)) / 2 alone.
    anchor = t([[1.0, 0.0]]).requires_grad_()
    positive = t([[3.0, 4.0]]).requires_grad_()
    negative = t([[0.0, 1.0]]).requires_grad_()
    adaptive_margin_triplet_loss(anchor, positive, negative).backward()

    inputs = [x.detach().clone().requires_grad_() for x in (anchor, positive, negative)]
    a, p, n = inputs
    (euclidean_similarity(a, p) - (euclidean_similarity(a, n) + euclidean_similarity(p, n)) / 2).sum().backward()
    for got, want in zip((anchor, positive, negative), inputs):
        torch.testing.assert_close(got.grad, want.grad)


def test_amt_gradient_step_pushes_negative_away_and_pulls_positive_in():
    anchor = t([[1.0, 0.0]])
    positive = t([[3.0, 4.0]]).requires_grad_()
    negative = t([[0.0, 1.0]]).requires_grad_()
    adaptive_margin_triplet_loss(anchor, positive, negative).backward()
    d_an_before = euclidean_similarity(anchor, negative.detach()).item()
    d_ap_before = euclidean_similarity(anchor, positive.detach()).item()
    d_an_after = euclidean_similarity(anchor, negative.detach() - 0.1 * negative.grad).item()
    d_ap_after = euclidean_similarity(anchor, positive.detach() - 0.1 * positive.grad).item()
    assert d_an_after > d_an_before
    assert d_ap_after < d_ap_before


def test_amt_empty_is_zero_and_connected():
    anchor = torch.zeros(0, 4, requires_grad=True)
    loss = adaptive_margin_triplet_loss(anchor, torch.zeros(0, 4), torch.zeros(0, 4))
    assert loss.item() == 0.0 and not torch.isnan(loss)
    loss.backward()


# ---------------------------------------------------------------- variance_loss


def test_variance_loss_3x2_by_hand():
    z = t([[0.0, 0.0], [0.5, 0.1], [1.0, 0.2]])
    # column 0: [0, 0.5, 1], mean 0.5, unbiased var = (0.25 + 0 + 0.25) / 2 = 0.25 -> 1 - sqrt(0.2501)
    # column 1: [0, 0.1, 0.2], mean 0.1, unbiased var = (0.01 + 0 + 0.01) / 2 = 0.01 -> 1 - sqrt(0.0101)
    expected = ((1 - math.sqrt(0.25 + 1e-4)) + (1 - math.sqrt(0.01 + 1e-4))) / 2
    assert variance_loss(z).item() == pytest.approx(expected, abs=1e-12)


def test_variance_loss_hinge_clips_wide_columns():
    z = t([[0.0, 0.0], [1.0, 0.1], [2.0, 0.2]])
    # column 0: var = (1 + 0 + 1) / 2 = 1 -> 1 - sqrt(1.0001) < 0 -> 0; column 1 as above.
    expected = (0.0 + (1 - math.sqrt(0.01 + 1e-4))) / 2
    assert variance_loss(z).item() == pytest.approx(expected, abs=1e-12)


def test_variance_loss_custom_eps():
    z = t([[1.0], [1.0], [1.0]])  # var 0 -> 1 - sqrt(eps)
    assert variance_loss(z, eps=0.04).item() == pytest.approx(1 - 0.2, abs=1e-12)


# ---------------------------------------------------------------- covariance_loss


def test_covariance_loss_3x2_by_hand():
    z = t([[1.0, 2.0], [2.0, 1.0], [3.0, 6.0]])
    # column means (2, 3); centred rows (-1, -1), (0, -2), (1, 3).
    # Cov[0, 1] = ((-1)(-1) + (0)(-2) + (1)(3)) / (3 - 1) = 4 / 2 = 2.
    # Off-diagonal squares: 2^2 + 2^2 = 8, divided by d = 2 -> 4.
    assert covariance_loss(z).item() == pytest.approx(4.0, abs=1e-12)


def test_covariance_loss_ignores_diagonal():
    z = t([[0.0], [10.0], [-3.0]])  # d = 1: no off-diagonal entry however large the variance
    assert covariance_loss(z).item() == 0.0


@pytest.mark.parametrize("fn", [variance_loss, covariance_loss])
def test_single_row_returns_connected_zero(fn):
    z = torch.randn(1, 3, requires_grad=True)
    loss = fn(z)
    assert loss.item() == 0.0
    loss.backward()
    torch.testing.assert_close(z.grad, torch.zeros_like(z))


# ---------------------------------------------------------------- mine_triplets


def as_set(triplets):
    return set(zip(*(idx.tolist() for idx in triplets)))


def test_mine_all_exact_set():
    triplets = mine_triplets(torch.tensor([0, 0, 1, 1, 2]))
    assert all(idx.dtype == torch.long for idx in triplets)
    # Anchors 0/1 (class 0) pair with each other and take negatives {2, 3, 4}; anchors 2/3 (class 1) pair with each
    # other and take negatives {0, 1, 4}; sample 4 is alone in class 2 so it is only ever a negative.
    negatives = {(0, 1): (2, 3, 4), (1, 0): (2, 3, 4), (2, 3): (0, 1, 4), (3, 2): (0, 1, 4)}
    expected = [
        (anchor, positive, negative) for (anchor, positive), others in negatives.items() for negative in others
    ]
    assert list(zip(*(idx.tolist() for idx in triplets))) == expected


def test_mine_all_ignores_minus_100():
    # The two -100 samples share a "label" but must never form a pair, nor serve as negatives.
    triplets = mine_triplets(torch.tensor([0, -100, 0, 1, -100]))
    assert as_set(triplets) == {(0, 2, 3), (2, 0, 3)}


@pytest.mark.parametrize("strategy", ["all", "random"])
@pytest.mark.parametrize(
    "labels",
    [[1, 1, 1], [0, 1, 2], [-100, -100, -100], [5], [], [0, 0, -100, -100]],
    ids=["one-class", "one-per-class", "all-ignored", "single", "empty", "one-class-plus-ignored"],
)
def test_mine_no_triplet_gives_empty(labels, strategy):
    triplets = mine_triplets(torch.tensor(labels, dtype=torch.long), strategy=strategy)
    assert len(triplets) == 3
    for idx in triplets:
        assert idx.shape == (0,) and idx.dtype == torch.long


def test_mine_random_one_valid_triplet_per_anchor_and_reproducible():
    labels = torch.tensor([0, 0, 0, 1, 1, 2, -100])
    first = mine_triplets(labels, "random", generator=torch.Generator().manual_seed(7))
    second = mine_triplets(labels, "random", generator=torch.Generator().manual_seed(7))
    for a, b in zip(first, second):
        assert torch.equal(a, b)
    anchor, positive, negative = first
    # Sample 5 has no positive and sample 6 is ignored, so the anchors are 0..4.
    assert anchor.tolist() == [0, 1, 2, 3, 4]
    for a, p, n in zip(anchor.tolist(), positive.tolist(), negative.tolist()):
        assert labels[a] == labels[p] and a != p
        assert labels[n] != labels[a] and labels[n] != -100


def test_mine_random_draws_uniformly():
    labels = torch.tensor([0, 0, 0, 1, 2])  # anchor 0: positives {1, 2}, negatives {3, 4}
    generator = torch.Generator().manual_seed(0)
    draws = [mine_triplets(labels, "random", generator=generator) for _ in range(2000)]
    positives = torch.stack([d[1][0] for d in draws])
    negatives = torch.stack([d[2][0] for d in draws])
    assert set(positives.tolist()) == {1, 2} and set(negatives.tolist()) == {3, 4}
    assert (positives == 1).double().mean().item() == pytest.approx(0.5, abs=0.05)
    assert (negatives == 3).double().mean().item() == pytest.approx(0.5, abs=0.05)


# ---------------------------------------------------------------- M2FNetTripletLoss


def test_loss_module_by_hand():
    # e0 = (1, 0), e1 = (3, 4), e2 = (0, -2); labels [0, 0, 1] -> triplets (0, 1, 2) and (1, 0, 2).
    embeddings = t([[1.0, 0.0], [3.0, 4.0], [0.0, -2.0]]).requires_grad_()
    out = M2FNetTripletLoss()(embeddings, torch.tensor([0, 0, 1]))
    assert isinstance(out, M2FNetTripletLossOutput)
    assert out.num_triplets.item() == 2

    # Normalised: (1, 0), (0.6, 0.8), (0, -1).
    # D(e0, e1) = sqrt(0.8) / 2; D(e0, e2) = |(1, 1)| / 2 = sqrt(2) / 2; D(e1, e2) = |(0.6, 1.8)| / 2 = sqrt(3.6) / 2.
    d01, d02, d12 = math.sqrt(0.8) / 2, math.sqrt(2) / 2, math.sqrt(3.6) / 2
    triplet = (amt_by_hand(d01, d02, d12) + amt_by_hand(d01, d12, d02)) / 2
    # Z_a = [e0, e1], Z_p = [e1, e0], Z_n = [e2, e2] (raw, not normalised), N = 2.
    # Variance: Z_a / Z_p columns [1, 3] (var 2) and [0, 4] (var 8) -> std > 1 -> 0.
    #           Z_n columns are constant -> each 1 - sqrt(1e-4) = 0.99 -> 0.99.   Total 0.99.
    variance = 1 - math.sqrt(1e-4)
    # Covariance: Z_a centred [[-1, -2], [1, 2]] -> Cov[0, 1] = (2 + 2) / 1 = 4 -> 2 * 16 / 2 = 16; same for Z_p;
    #             Z_n -> 0.   Total 32.
    covariance = 32.0
    assert out.triplet_loss.item() == pytest.approx(triplet, abs=1e-10)
    assert out.variance_loss.item() == pytest.approx(variance, abs=1e-10)
    assert out.covariance_loss.item() == pytest.approx(covariance, abs=1e-10)
    assert out.loss.item() == pytest.approx(20 * triplet + 5 * covariance + 1 * variance, abs=1e-9)
    out.loss.backward()
    assert torch.isfinite(embeddings.grad).all()


def test_loss_module_custom_weights_are_the_weighted_sum():
    generator = torch.Generator().manual_seed(0)
    embeddings = torch.randn(8, 16, generator=generator)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    out = M2FNetTripletLoss(triplet_weight=2.0, covariance_weight=0.5, variance_weight=3.0)(embeddings, labels)
    expected = 2.0 * out.triplet_loss + 0.5 * out.covariance_loss + 3.0 * out.variance_loss
    torch.testing.assert_close(out.loss, expected)
    # 4 classes x 2 samples: each anchor has 1 positive and 6 negatives -> 8 * 1 * 6 = 48 triplets.
    assert out.num_triplets.item() == 48


@pytest.mark.parametrize("labels", [[0, 1, 2, 3], [4, 4, 4, 4], [-100, -100, -100, -100]])
def test_loss_module_without_triplets_is_zero_and_backward_works(labels):
    embeddings = torch.randn(4, 8, requires_grad=True)
    out = M2FNetTripletLoss()(embeddings, torch.tensor(labels))
    assert out.num_triplets.item() == 0
    for value in (out.loss, out.triplet_loss, out.variance_loss, out.covariance_loss):
        assert value.item() == 0.0 and not torch.isnan(value)
    out.loss.backward()
    torch.testing.assert_close(embeddings.grad, torch.zeros_like(embeddings))


@pytest.mark.parametrize("strategy", ["all", "random"])
def test_loss_module_gradients_are_finite(strategy):
    generator = torch.Generator().manual_seed(1)
    embeddings = torch.randn(12, 32, generator=generator)
    embeddings[1] = embeddings[0]  # identical anchor / positive embeddings must not produce NaN
    embeddings.requires_grad_()
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 3, 3, -100, 4])
    out = M2FNetTripletLoss(mining_strategy=strategy)(embeddings, labels, generator=generator)
    assert torch.isfinite(out.loss)
    out.loss.backward()
    assert torch.isfinite(embeddings.grad).all()
    assert embeddings.grad[:10].abs().sum() > 0
    # Sample 10 is ignored (-100): it is never an anchor, positive or negative, so it gets no gradient.
    torch.testing.assert_close(embeddings.grad[10], torch.zeros(32))


def test_loss_module_random_strategy_reproducible():
    embeddings = torch.randn(10, 8, generator=torch.Generator().manual_seed(3))
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
    loss_fn = M2FNetTripletLoss(mining_strategy="random")
    first = loss_fn(embeddings, labels, generator=torch.Generator().manual_seed(11))
    second = loss_fn(embeddings, labels, generator=torch.Generator().manual_seed(11))
    assert first.num_triplets.item() == 10
    torch.testing.assert_close(first.loss, second.loss)


def test_loss_module_max_triplets_subsamples_reproducibly():
    embeddings = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 0, 1, 1, 2])  # 12 triplets in all
    loss_fn = M2FNetTripletLoss(max_triplets=5)
    first = loss_fn(embeddings, labels, generator=torch.Generator().manual_seed(5))
    second = loss_fn(embeddings, labels, generator=torch.Generator().manual_seed(5))
    assert first.num_triplets.item() == 5
    torch.testing.assert_close(first.loss, second.loss)
    # A cap above the number of triplets keeps them all.
    assert M2FNetTripletLoss(max_triplets=100)(embeddings, labels).num_triplets.item() == 12


def test_output_is_a_model_output():
    out = M2FNetTripletLoss()(torch.randn(4, 3), torch.tensor([0, 0, 1, 1]))
    assert out[0] is out.loss
    assert set(out.keys()) == {"loss", "triplet_loss", "variance_loss", "covariance_loss", "num_triplets"}


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"triplet_weight": -1.0}, "triplet_weight.*-1.0"),
        ({"covariance_weight": float("nan")}, "covariance_weight.*nan"),
        ({"variance_weight": "1"}, "variance_weight.*'1'"),
        ({"variance_eps": 0.0}, "variance_eps.*0.0"),
        ({"mining_strategy": "hard"}, "mining_strategy.*'hard'"),
        ({"max_triplets": 0}, "max_triplets.*0"),
        ({"max_triplets": 2.5}, "max_triplets.*2.5"),
    ],
)
def test_loss_module_init_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        M2FNetTripletLoss(**kwargs)


def test_loss_module_forward_errors():
    loss_fn = M2FNetTripletLoss()
    with pytest.raises(ValueError, match=r"embeddings.*\(4,\)"):
        loss_fn(torch.randn(4), torch.tensor([0, 0, 1, 1]))
    with pytest.raises(ValueError, match=r"labels.*\(3,\).*\(4, 2\)"):
        loss_fn(torch.randn(4, 2), torch.tensor([0, 0, 1]))
    with pytest.raises(ValueError, match=r"labels.*\(4, 1\)"):
        loss_fn(torch.randn(4, 2), torch.zeros(4, 1, dtype=torch.long))


def test_function_errors():
    with pytest.raises(ValueError, match="strategy.*'hard'"):
        mine_triplets(torch.tensor([0, 0, 1]), strategy="hard")
    with pytest.raises(ValueError, match=r"labels.*\(2, 2\)"):
        mine_triplets(torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="labels.*float"):
        mine_triplets(torch.tensor([0.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match=r"x.*y.*\(2, 3\).*\(2, 4\)"):
        euclidean_similarity(torch.randn(2, 3), torch.randn(2, 4))
    with pytest.raises(ValueError, match=r"anchor.*negative"):
        adaptive_margin_triplet_loss(torch.randn(2, 3), torch.randn(2, 3), torch.randn(3, 3))
    with pytest.raises(ValueError, match=r"z.*\(3,\)"):
        variance_loss(torch.randn(3))
    with pytest.raises(ValueError, match=r"z.*\(2, 2, 2\)"):
        covariance_loss(torch.randn(2, 2, 2))

"""Fig. 5 matrices on hand-made logits: top-1 matching ratio and KL(p‖q)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from trade_pipeline.teachers.similarity import PairwiseAgreement

# Three models, four images, two classes. p = uniform on every image; q = (3/4, 1/4); r flips q.
UNIFORM = np.zeros((4, 2))
SURE = np.tile([math.log(3.0), 0.0], (4, 1))
FLIPPED = np.array([[math.log(3.0), 0.0], [0.0, math.log(3.0)], [0.0, math.log(3.0)], [math.log(3.0), 0.0]])


def similarity_matrices(logits: list[np.ndarray]) -> dict:
    """Fig. 5 matrices of whole ``N x K`` logit arrays, in one batch."""
    agreement = PairwiseAgreement(len(logits))
    agreement.update(logits)
    return agreement.result()


def test_diagonals_are_one_and_zero():
    result = similarity_matrices([UNIFORM, SURE, FLIPPED])
    np.testing.assert_allclose(np.diag(result["top1_match"]), 1.0)
    np.testing.assert_allclose(np.diag(result["kl"]), 0.0, atol=1e-12)
    assert result["samples"] == 4


def test_top1_match_counts_agreeing_argmaxes():
    result = similarity_matrices([UNIFORM, SURE, FLIPPED])
    # argmax: uniform -> class 0 (first maximum), sure -> 0, flipped -> 0, 1, 1, 0
    assert result["top1_match"][0][1] == 1.0
    assert result["top1_match"][1][2] == result["top1_match"][2][1] == 0.5


def test_kl_matches_the_hand_computed_value_and_is_not_symmetric():
    kl = similarity_matrices([UNIFORM, SURE])["kl"]
    # KL(p‖q) = ½ ln(½ / ¾) + ½ ln(½ / ¼) = ½ ln(4/3);  KL(q‖p) = ¾ ln(3/2) + ¼ ln(1/2)
    assert kl[0][1] == pytest.approx(0.5 * math.log(4 / 3))
    assert kl[1][0] == pytest.approx(0.75 * math.log(1.5) + 0.25 * math.log(0.5))
    assert kl[0][1] != pytest.approx(kl[1][0])


def test_batches_accumulate_to_the_whole_set_result():
    rng = np.random.default_rng(0)
    logits = [rng.normal(size=(10, 5)).astype(np.float32) for _ in range(3)]
    agreement = PairwiseAgreement(3)
    agreement.update([x[:4] for x in logits])
    agreement.update([x[4:] for x in logits])
    whole = similarity_matrices(logits)
    streamed = agreement.result()
    np.testing.assert_allclose(streamed["kl"], whole["kl"], rtol=1e-12)
    assert streamed["top1_match"] == whole["top1_match"] and streamed["samples"] == 10


def test_wrong_number_of_models_is_refused():
    with pytest.raises(ValueError, match="expected 3 logit arrays"):
        PairwiseAgreement(3).update([UNIFORM, SURE])

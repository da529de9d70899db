import math

import pytest

from trade_pipeline.search.score import Budget, KDGuidedScore, resource_ratio

TEACHER = {"params": 20e6, "macs": 4e9, "latency_ms": 10.0}


def test_resource_ratio_sums_the_three_teacher_relative_costs():
    # 5M/20M + 1G/4G + 5ms/10ms = 0.25 + 0.25 + 0.5
    assert resource_ratio(5e6, 1e9, 5.0, TEACHER) == pytest.approx(1.0)


def test_resource_ratio_rejects_a_teacher_profile_without_a_positive_cost():
    with pytest.raises(ValueError, match="'latency_ms'.*teacher pipeline"):
        resource_ratio(5e6, 1e9, 5.0, {"params": 20e6, "macs": 4e9, "latency_ms": 0.0})


def test_score_at_or_above_target_divides_by_one_plus_epsilon():
    # 0.8 / (0.9 * (1 + 0.01)) * 1.5
    assert KDGuidedScore(0.8, 0.01).value(0.9, 1.5) == pytest.approx(0.8 / (0.9 * 1.01) * 1.5)
    assert KDGuidedScore(0.8, 0.01).value(0.8, 1.0) == pytest.approx(1 / 1.01)


def test_score_below_target_is_penalised_by_one_over_epsilon():
    # 0.8 / (0.7 * 0.01) * 1.5
    assert KDGuidedScore(0.8, 0.01).value(0.7, 1.5) == pytest.approx(0.8 / 0.007 * 1.5)


def test_a_student_meeting_the_target_beats_a_lighter_one_missing_it():
    assert KDGuidedScore(0.8, 0.01).value(0.81, 1.0) < KDGuidedScore(0.8, 0.01).value(0.79, 0.2)


def test_score_is_infinite_for_a_student_that_learned_nothing():
    assert KDGuidedScore(0.8, 0.01).value(0.0, 1.0) == math.inf


@pytest.mark.parametrize(
    ("acc_student", "acc_target", "epsilon", "message"),
    [
        (0.5, 0.8, 0.0, "epsilon"),
        (0.5, 0.0, 0.01, "acc_target"),
        (float("nan"), 0.8, 0.01, "acc_student"),
    ],
)
def test_score_rejects_inputs_outside_its_domain(acc_student, acc_target, epsilon, message):
    with pytest.raises(ValueError, match=message):
        KDGuidedScore(acc_target, epsilon).value(acc_student, 1.0)


def test_a_budget_violation_names_the_cost_its_ratio_and_the_limit():
    reason = Budget(max_macs_ratio=0.25).violation(5e6, 1.64e9, 5.0, TEACHER)
    assert reason == "macs ratio 0.41 > max_macs_ratio 0.25"


def test_a_budget_violation_lists_every_broken_limit_including_s():
    budget = Budget(max_params_ratio=0.2, max_latency_ratio=None, max_s=0.9)
    assert budget.violation(5e6, 1e9, 5.0, TEACHER) == "params ratio 0.25 > max_params_ratio 0.2; s 1 > max_s 0.9"


def test_within_budget_or_unlimited_gives_none():
    assert Budget(max_macs_ratio=0.25).violation(5e6, 1e9, 5.0, TEACHER) is None
    assert Budget().violation(5e6, 1e9, 5.0, TEACHER) is None


def test_an_unknown_budget_key_or_a_non_positive_limit_is_refused():
    with pytest.raises(ValueError, match="max_flops_ratio"):
        Budget.model_validate({"max_flops_ratio": 0.5})
    with pytest.raises(ValueError, match="max_s"):
        Budget(max_s=0)


def test_the_vectorised_log_score_is_the_log_of_eq_2_on_both_sides_of_the_target() -> None:
    import torch

    accuracies = torch.tensor([[40.0, 80.0, 90.0], [79.9, 80.0, 100.0]], dtype=torch.float64)
    ratios = torch.tensor([[0.2, 0.3, 0.5], [0.1, 0.1, 0.1], [1.0, 0.5, 0.5]], dtype=torch.float64)
    got = KDGuidedScore(80.0, 0.01).log_values(accuracies, ratios)
    s = ratios.sum(-1).tolist()
    for row, accuracy_row in zip(got.tolist(), accuracies.tolist()):
        expected = [math.log(KDGuidedScore(80.0, 0.01).value(a, s_n)) for a, s_n in zip(accuracy_row, s)]
        assert row == pytest.approx(expected, rel=1e-12)

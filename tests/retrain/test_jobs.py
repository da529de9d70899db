"""Retrain jobs: what is trained and how, kill-safe checkpoints, DDP on CPU."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from trade_pipeline.retrain.jobs import (
    EmptySelectionError,
    distillation_source,
    plan_jobs,
    run_job,
    trained_model,
)
from trade_pipeline.serialization import load_tensor_state
from trade_pipeline.training.checkpoint import CheckpointMismatchError

from .conftest import STUDENT, SUMMARY, retrain_params

BASELINE = {"name": "resnet", "model": "resnet10t", "model_kwargs": {"channels": [8, 8, 8, 8], "stem_width": 8}}


def test_every_model_runs_in_every_mode_and_seed_with_kd_only_when_distilling(digits, tmp_path):
    params = retrain_params(tmp_path, baselines=[BASELINE], seeds=[0, 1])
    jobs = plan_jobs([STUDENT, {**STUDENT, "block_sequence": "FMB-MB (2)"}], SUMMARY, digits,
                     params.model_copy(update={"students": 1}))
    assert [job.name for job in jobs] == [
        "trade_1-hard_label-seed0", "trade_1-hard_label-seed1", "trade_1-distill-seed0", "trade_1-distill-seed1",
        "resnet-hard_label-seed0", "resnet-hard_label-seed1", "resnet-distill-seed0", "resnet-distill-seed1"]
    assert {job.recipe.kd_alpha for job in jobs if job.trained_by == "hard_label"} == {0.0}
    assert {job.recipe.kd_alpha for job in jobs if job.trained_by == "distill"} == {0.7}
    assert [job.recipe.seed for job in jobs[:2]] == [0, 1]
    assert jobs[0].searched_by == "trade" and jobs[0].model_spec["family"] == "student"
    assert jobs[-1].searched_by == "predefined" and jobs[-1].model_spec["kwargs"] == BASELINE["model_kwargs"]


def test_the_hard_label_searchs_students_follow_the_distilled_searchs_as_trade_hl(digits, tmp_path):
    params = retrain_params(tmp_path, baselines=[BASELINE], trained_by=["distill"], students=1)
    other = {**STUDENT, "block_sequence": "FMB-MB (HL)"}
    jobs = plan_jobs([STUDENT, STUDENT], SUMMARY, digits, params, hard_label_selected=[other, other])
    assert [(job.name, job.searched_by, job.architecture) for job in jobs] == [
        ("trade_1-distill-seed0", "trade", "FMB-MB"), ("trade_hl_1-distill-seed0", "trade_hl", "FMB-MB (HL)"),
        ("resnet-distill-seed0", "predefined", "resnet10t")]


def test_an_empty_selection_says_what_the_search_reached_and_what_to_change(digits, tmp_path):
    with pytest.raises(EmptySelectionError, match=r"acc_target=20\.00 % \(the best proxy top-1 was 40\.00 %\)\. "
                                                  r"Lower search\.score\.acc_target"):
        plan_jobs([], SUMMARY, digits, retrain_params(tmp_path))


def test_distillation_reads_the_cache_unless_batches_are_augmented(context, digits):
    jobs = plan_jobs([STUDENT], SUMMARY, digits, context().params)
    hard, distill = jobs
    assert distillation_source(hard, context()) == (None, None)
    soft_labels, teacher = distillation_source(distill, context())
    assert teacher is None and len(soft_labels) == len(digits.indices("train"))  # mini-train + mini-val
    augmented = plan_jobs([STUDENT], SUMMARY, digits, context(recipe={"augment": {"scale": [0.8, 1.0]}}).params)[1]
    assert distillation_source(augmented, context())[1] is context().teacher.model


def test_a_job_killed_mid_training_resumes_to_the_weights_of_an_uninterrupted_run(context, digits, tmp_path,
                                                                                   kill_at_first_checkpoint):
    settings = {"recipe": {"epochs": 8, "warmup_epochs": 1, "batch_size": 20, "augment": {"scale": [0.7, 1.0]}}}
    killed = tmp_path / "killed"
    script = (
        "import sys; sys.path.insert(0, %r)\n"
        "from pathlib import Path\n"
        "from conftest import STUDENT, SUMMARY, retrain_params\n"
        "from trade_pipeline.data.config import DataParams\n"
        "from trade_pipeline.data.sources import load_source\n"
        "from trade_pipeline.data.split import make_split\n"
        "from trade_pipeline.models import ModelArtifact, build_model, timm_model_spec\n"
        "from trade_pipeline.retrain.jobs import RetrainContext, plan_jobs, run_job\n"
        "from trade_pipeline.teachers.logits import logit_cache\n"
        "import torch\n"
        "torch.set_num_threads(1)  # as in this process: thread counts change the order of float sums\n"
        "data = DataParams(dataset='digits', n_test=100, n_mini_val=100, n_mini_train=240)\n"
        "split = make_split(data, load_source(data))\n"
        "torch.manual_seed(0)\n"
        "spec = timm_model_spec('resnet10t', 1, 10, 8, channels=[8, 8, 8, 8], stem_width=8)\n"
        "teacher = ModelArtifact(spec, build_model(spec).eval())\n"
        "params = retrain_params(Path(%r), **%r)\n"
        "context = RetrainContext(split, teacher, logit_cache('tiny', teacher.model, split, 128), params)\n"
        "run_job(plan_jobs([STUDENT], SUMMARY, split, params)[1], 'cpu', context)\n"
    ) % (str(Path(__file__).parent), str(killed), settings)
    kill_at_first_checkpoint(script, killed / "checkpoints")
    (saved,) = (killed / "checkpoints").glob("*.safetensors")
    assert load_tensor_state(saved)["epoch"] < 8, "the child should have been killed mid-training"

    resumed_context = context(**settings, checkpoint_dir=str(killed / "checkpoints"))
    job = plan_jobs([STUDENT], SUMMARY, digits, resumed_context.params)[1]
    assert job.trained_by == "distill" and job.recipe.augment.active  # online teacher, augmented batches
    resumed = run_job(job, "cpu", resumed_context)
    uninterrupted = run_job(job, "cpu", context(**settings, checkpoint_dir=str(tmp_path / "fresh")))
    assert resumed["status"] == uninterrupted["status"] == "ok"
    assert [row["train_loss"] for row in resumed["history"]] == [row["train_loss"] for row in uninterrupted["history"]]
    resumed_weights, fresh_weights = (trained_model(r).model.state_dict() for r in (resumed, uninterrupted))
    assert all(torch.equal(resumed_weights[key], fresh_weights[key]) for key in fresh_weights)


def test_a_checkpoint_for_another_recipe_is_refused_naming_it_and_kept(context, digits):
    first = context()
    job = plan_jobs([STUDENT], SUMMARY, digits, first.params)[0]
    run_job(job, "cpu", first)
    path = first.checkpoint(job).path
    saved = path.read_bytes()
    changed = context(recipe={"epochs": 2, "warmup_epochs": 0.5, "batch_size": 40, "lr": 0.01})
    with pytest.raises(CheckpointMismatchError, match=rf"'{path}' was saved for another model, recipe or dataset"):
        run_job(plan_jobs([STUDENT], SUMMARY, digits, changed.params)[0], "cpu", changed)
    assert path.read_bytes() == saved


def test_ddp_on_two_cpu_processes_trains_like_one_process(context, digits):
    """Without BatchNorm (a ViT: LayerNorm only), two processes each taking half of every batch
    and averaging gradients take the same steps as one process on the whole batch, up to the
    order of float sums."""
    vit = {"name": "vit", "model": "vit_tiny_patch16_224", "model_kwargs": {"patch_size": 4, "embed_dim": 16, "depth": 1,
                                                             "num_heads": 2, "mlp_ratio": 2, "class_token": False,
                                                             "global_pool": "avg"}}
    settings = {"baselines": [vit], "trained_by": ["hard_label"],
                "recipe": {"epochs": 1, "warmup_epochs": 0, "batch_size": 40}}
    results = {}
    for nproc in (1, 2):
        ddp_context = context(**settings, ddp={"nproc": nproc}, checkpoint_dir=str(Path(context().params.checkpoint_dir)
                                                                                    / f"nproc{nproc}"))
        job = plan_jobs([STUDENT], SUMMARY, digits, ddp_context.params.model_copy(update={"students": None}))[-1]
        results[nproc] = run_job(job, "cpu", ddp_context)
    single, double = (trained_model(results[n]).model.state_dict() for n in (1, 2))
    for key, tensor in single.items():
        torch.testing.assert_close(double[key], tensor, rtol=1e-4, atol=1e-5)
    assert results[2]["top1"] == pytest.approx(results[1]["top1"], abs=1.0)

"""The transfer: a new head (and adapted stem) on the retrained weights, the paper's recipe,
resumable jobs, Table 7, and what a missing CIFAR folder says."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from trade_pipeline.config import ConfigError
from trade_pipeline.data.config import DataParams
from trade_pipeline.data.sources import load_source
from trade_pipeline.data.split import make_split
from trade_pipeline.models import ModelArtifact, build_model, timm_model_spec
from trade_pipeline.serialization import load_tensor_state
from trade_pipeline.training import engine
from trade_pipeline.transfer.config import TransferParams, TransferRecipe
from trade_pipeline.transfer.jobs import target_model, target_splits
from trade_pipeline.transfer.report import report_markdown, transfer_report
from trade_pipeline.transfer.session import run_transfer

ROOT = Path(__file__).resolve().parents[2]
DIGITS = {"name": "digits", "data": {"dataset": "digits", "n_test": 100, "n_mini_val": 50, "n_mini_train": 150}}


def _retrained(in_chans: int = 1, num_classes: int = 10) -> ModelArtifact:
    torch.manual_seed(0)
    spec = timm_model_spec("resnet10t", in_chans, num_classes, 8, channels=[8, 8, 8, 8], stem_width=8)
    return ModelArtifact(spec, build_model(spec).eval())


def _split(**data):
    params = DataParams(**{"dataset": "digits", "n_test": 100, "n_mini_val": 50, "n_mini_train": 150, **data})
    return make_split(params, load_source(params))


def test_the_recipe_defaults_are_the_papers_fine_tuning():
    recipe = TransferRecipe()
    assert (recipe.steps, recipe.epochs, recipe.batch_size, recipe.lr, recipe.sched) == (20_000, None, 256, 1e-3, "cosine")
    assert (recipe.weight_decay, recipe.kd_alpha) == (0.0, 0.0) and recipe.augment.cutout == 1.0


def test_a_transferred_model_keeps_its_weights_under_a_new_head_for_the_new_classes():
    source = _retrained(num_classes=7)
    split = _split()
    transferred = target_model(source, split, "transferred")
    assert transferred.model_spec["num_classes"] == 10 and transferred.model.fc.out_features == 10
    kept = {k: v for k, v in source.model.state_dict().items() if not k.startswith("fc.")}
    assert all(torch.equal(transferred.model.state_dict()[k], v) for k, v in kept.items())
    scratch = target_model(source, split, "scratch")
    assert not torch.equal(scratch.model.state_dict()["conv1.0.weight"], kept["conv1.0.weight"])


def test_grey_weights_move_to_rgb_images_through_timms_adapted_first_convolution(cifar_root):
    split = make_split(DataParams(dataset="cifar10", root=str(cifar_root), n_test=None, n_mini_val=20, image_size=8),
                       load_source(DataParams(dataset="cifar10", root=str(cifar_root), n_test=None, n_mini_val=20)))
    transferred = target_model(_retrained(in_chans=1), split, "transferred")
    assert transferred.model_spec["in_chans"] == 3
    assert transferred.model(torch.zeros(2, 3, 8, 8)).shape == (2, 10)


def test_jobs_resume_from_their_checkpoints_and_table_7_has_a_column_per_dataset(tmp_path, monkeypatch):
    params = TransferParams.model_validate({"targets": [DIGITS], "recipe": {"steps": 3, "batch_size": 50},
                                           "checkpoint_dir": str(tmp_path / "checkpoints"), "eval_batch_size": 100})
    retrained = {"resnet": _retrained()}
    first = run_transfer(retrained, target_splits(params.targets, 8), params)
    assert [(r["model"], r["init"], r["status"]) for r in first] == [("resnet", "transferred", "ok"),
                                                                     ("resnet", "scratch", "ok")]
    updates = []
    real_step = engine.Trainer.step
    monkeypatch.setattr(engine.Trainer, "step", lambda self, *a: updates.append(1) or real_step(self, *a))
    again = run_transfer(retrained, target_splits(params.targets, 8), params)
    assert updates == [] and [r["top1"] for r in again] == [r["top1"] for r in first]  # finished jobs reload

    report = transfer_report(first)
    assert list(report.columns) == ["model", "trained_by", "dataset", "init", "top1"]
    assert set(report["trained_by"]) == {"distill"}  # transfer.trained_by: the retrained version transferred
    retrain = pd.DataFrame({"model": ["resnet", "resnet"], "trained_by": ["hard_label", "distill"], "top1": [90.0, 91.5]})
    markdown = report_markdown(report, retrain, "embedded_mnist")
    assert markdown.splitlines()[0] == "| architecture | init | embedded_mnist (D) | digits |"
    assert markdown.splitlines()[2].startswith("| resnet | transferred | 91.50 |")
    assert report_markdown(pd.DataFrame(columns=report.columns), None, "x") == "No transfer job finished.\n"

    hard_label = transfer_report([{**row, "trained_by": "hard_label"} for row in first])
    assert report_markdown(hard_label, retrain, "embedded_mnist").splitlines()[2].startswith(
        "| resnet | transferred | 90.00 |")  # the source column follows transfer.trained_by


def test_a_missing_cifar_folder_names_the_folder_expected_and_the_flag(tmp_path):
    target = {"name": "cifar10", "data": {"dataset": "cifar10", "root": str(tmp_path), "n_test": None}}
    with pytest.raises(ConfigError, match=r"transfer\.targets\.0: .*cifar-10-batches-py' does not exist.*download: true"):
        TransferParams.model_validate({"targets": [target]})


def test_a_transfer_killed_mid_run_resumes_to_the_result_of_an_uninterrupted_one(tmp_path, kill_at_first_checkpoint):
    settings = {"targets": [DIGITS], "recipe": {"steps": 60, "batch_size": 50}, "eval_batch_size": 100}
    killed = tmp_path / "killed"
    script = (
        "import torch\n"
        "torch.set_num_threads(1)  # as in this process: thread counts change the order of float sums\n"
        "from trade_pipeline.models import ModelArtifact, build_model, timm_model_spec\n"
        "from trade_pipeline.transfer.config import TransferParams\n"
        "from trade_pipeline.transfer.jobs import target_splits\n"
        "from trade_pipeline.transfer.session import run_transfer\n"
        "torch.manual_seed(0)\n"
        "spec = timm_model_spec('resnet10t', 1, 10, 8, channels=[8, 8, 8, 8], stem_width=8)\n"
        "params = TransferParams.model_validate({**%r, 'checkpoint_dir': %r})\n"
        "run_transfer({'resnet': ModelArtifact(spec, build_model(spec).eval())}, target_splits(params.targets, 8), "
        "params)\n"
    ) % (settings, str(killed))
    kill_at_first_checkpoint(script, killed)
    (saved,) = killed.glob("*.safetensors")
    assert load_tensor_state(saved)["trainer"]["num_updates"] < 60, "the child should have been killed mid-run"

    retrained = {"resnet": _retrained()}
    splits = target_splits([TransferParams.model_validate(settings).targets[0]], 8)
    resumed = run_transfer(retrained, splits, TransferParams.model_validate({**settings, "checkpoint_dir": str(killed)}))
    fresh = run_transfer(retrained, splits, TransferParams.model_validate({**settings, "checkpoint_dir": str(tmp_path / "f")}))
    for one, other in zip(resumed, fresh):
        assert one["status"] == other["status"] == "ok"
        assert [row["train_loss"] for row in one["history"]] == [row["train_loss"] for row in other["history"]]
        assert one["top1"] == other["top1"]


def test_the_transferred_version_of_each_model_comes_from_the_retrain_job_records() -> None:
    from trade_pipeline.transfer.session import transferable

    versions = {name: _retrained() for name in ("trade_1-hard_label", "trade_1-distill", "resnet-distill",
                                                 "vit-hard_label")}
    records = [{"model": model, "trained_by": trained_by} for model, trained_by in
               [("trade_1", "hard_label"), ("trade_1", "distill"), ("resnet", "distill"), ("vit", "hard_label")]]
    models = transferable(versions, records, "distill")
    assert list(models) == ["trade_1", "resnet"]  # the jobs' order; vit has no distilled version
    assert models["trade_1"] is versions["trade_1-distill"]


def test_the_targets_splits_are_a_catalog_dataset_read_back_by_configured_name(tmp_path) -> None:
    """``split_targets`` saves one split per target through conf/base's ``transfer_splits``
    entry; ``transfer_models`` reads the configured ones back and names a missing one."""
    import yaml
    from kedro.io import DataCatalog

    from trade_pipeline.errors import InputError
    from trade_pipeline.pipelines.transfer.nodes import split_targets, transfer_models

    entry = yaml.safe_load((ROOT / "conf" / "base" / "catalog.yml").read_text())["transfer_splits"]
    catalog = DataCatalog.from_config({"transfer_splits": {**entry, "path": str(tmp_path / "splits")}})
    params = TransferParams.model_validate({"targets": [DIGITS]})
    made = split_targets(_split(), params)
    catalog.save("transfer_splits", made)
    assert sorted(p.name for p in (tmp_path / "splits").iterdir()) == ["digits.npz"]
    loaded = catalog.load("transfer_splits")["digits"]()
    assert loaded.fingerprint == made["digits"].fingerprint and loaded.image_size == 8

    renamed = TransferParams.model_validate({"targets": [{**DIGITS, "name": "digits_b"}]})
    with pytest.raises(InputError, match="no saved transfer split named digits_b; run the transfer pipeline"):
        transfer_models({}, [], catalog.load("transfer_splits"), renamed)

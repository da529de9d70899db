"""train_model / evaluate on a tiny separable dataset (CPU, a few dozen updates)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from trade_pipeline.training.checkpoint import Checkpoint, CheckpointMismatchError
from trade_pipeline.training.engine import Probe, RunOptions, train_model
from trade_pipeline.training.evaluation import evaluate
from trade_pipeline.training.recipe import ProxyRecipe, TeacherRecipe, TrainingRecipe
from trade_pipeline.training.soft_labels import SoftLabels

N_CLASSES, N_SAMPLES, BATCH = 3, 64, 16


def _loader(shuffle: bool = True) -> DataLoader:
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(N_SAMPLES) % N_CLASSES
    images = labels.float().sub(1.0).view(-1, 1, 1, 1) + 0.3 * torch.randn(
        N_SAMPLES, 1, 4, 4, generator=generator
    )
    indices = torch.arange(N_SAMPLES) * 10 + 5  # source-dataset indices, not positions
    dataset = TensorDataset(images, labels, indices)
    return DataLoader(dataset, batch_size=BATCH, shuffle=shuffle, generator=generator)


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 1), nn.ReLU(),
        nn.Flatten(), nn.Linear(8 * 4 * 4, N_CLASSES),
    )


def _config(**overrides) -> TrainingRecipe:
    settings = dict(epochs=4, lr=0.05, warmup_steps=2, kd_alpha=0.0)
    return TrainingRecipe(**{**settings, **overrides})


def _train(model: nn.Module, recipe: TrainingRecipe, eval_every: int = 1, **sources):
    return train_model(model, _loader(), _loader(shuffle=False), recipe, options=RunOptions(False, eval_every=eval_every),
                       **sources)


def _without_timings(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


def test_training_lowers_loss_and_records_every_epoch() -> None:
    result = _train(_model(), _config(epochs=6))
    assert result.status == "ok", result.reason
    assert [row["epoch"] for row in result.history] == [1, 2, 3, 4, 5, 6]
    assert result.history[-1]["train_loss"] < 0.5 * result.history[0]["train_loss"]
    assert result.steps == 6 * N_SAMPLES // BATCH
    assert result.top1 == result.history[-1]["top1"] > 90.0
    assert result.top5 == 100.0  # top-k with k = min(5, 3 classes)


def test_same_seed_gives_identical_history() -> None:
    config = _config(kd_alpha=0.0, or_lambda=1e-2)
    first, second = _train(_model(), config), _train(_model(), config)
    assert _without_timings(first.history) == _without_timings(second.history)


def test_cached_logits_train_exactly_like_the_online_teacher() -> None:
    teacher = _model(seed=1).eval()
    ordered = _loader(shuffle=False)
    with torch.no_grad():
        cache_indices = torch.cat([indices for _, _, indices in ordered]).numpy()
        cache_logits = torch.cat([teacher(images) for images, _, _ in ordered]).numpy()
    soft_labels = SoftLabels(cache_indices, cache_logits.astype(np.float32))
    config = _config(kd_alpha=0.7, kd_tau=2.0)
    cached = _train(_model(), config, soft_labels=soft_labels)
    online = _train(_model(), config, teacher=teacher)
    assert cached.status == online.status == "ok"
    for key in ("train_loss", "lr", "top1"):
        cached_values = [row[key] for row in cached.history]
        assert cached_values == pytest.approx([row[key] for row in online.history], rel=1e-5)


class _NaNModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(16, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1)) * float("nan")


def test_nan_loss_fails_the_run_without_raising() -> None:
    result = _train(_NaNModel(), _config())
    assert result.status == "failed"
    assert "non-finite" in result.reason
    assert result.steps == 4 and result.top1 is None and result.history == []  # stopped after epoch 1


def test_distillation_without_a_teacher_raises_before_training() -> None:
    model = _model()
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(ValueError, match="soft_labels"):
        _train(model, _config(kd_alpha=0.7))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_steps_mode_cycles_the_loader_and_counts_updates() -> None:
    result = _train(_model(), _config(epochs=None, steps=10))
    assert result.steps == 10
    assert len(result.history) == 3  # 4 + 4 + 2 updates
    assert result.history[-1]["lr"] == pytest.approx(0.0, abs=1e-12)  # cosine ends at min_lr


def test_eval_every_zero_evaluates_only_at_the_end() -> None:
    result = _train(_model(), _config(epochs=2), eval_every=0)
    assert [row["top1"] is None for row in result.history] == [True, False]


def _bn_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Dropout(0.2),
                         nn.Flatten(), nn.Linear(8 * 4 * 4, N_CLASSES))


def test_a_probe_scores_the_model_inside_epochs_and_leaves_its_weights_as_without_it() -> None:
    plain, probed = _bn_model(), _bn_model()
    recipe = _config(ema_decay=0.9, bn_recalibration_batches=2)  # 4 epochs of 4 updates
    _train(plain, recipe)
    seen = []
    probe = Probe(at=(1, 4, 6, 16, 99), loader=_loader(shuffle=False), stop=lambda u, top1: seen.append(u) or False,
                  calibration=_loader(shuffle=False))
    result = train_model(probed, _loader(), _loader(shuffle=False), recipe, options=RunOptions(False, probe=probe))
    assert result.status == "ok" and [p["updates"] for p in result.probes] == seen == [1, 4, 6]  # not at the end
    assert all(0.0 <= p["top1"] <= 100.0 for p in result.probes)
    for a, b in zip(plain.state_dict().values(), probed.state_dict().values()):  # BatchNorm statistics too
        assert torch.equal(a, b)


def test_a_probe_that_says_stop_ends_the_run_there_without_final_accuracies() -> None:
    probe = Probe(at=(2, 6, 10), loader=_loader(shuffle=False), stop=lambda updates, top1: updates == 6)
    result = train_model(_model(), _loader(), _loader(shuffle=False), _config(),
                         options=RunOptions(False, probe=probe))
    assert (result.status, result.steps, result.top1) == ("stopped", 6, None)
    assert [p["updates"] for p in result.probes] == [2, 6] and len(result.history) == 1  # epoch 1 of 4 updates


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"epochs": 2, "steps": 5}, "exactly one"),
        ({"epochs": None}, "exactly one"),
        ({"optimizer": "adamz"}, "optimizer"),
        ({"or_targets": ("head",)}, "or_targets"),
        ({"sched": "plateau"}, "sched"),
        ({"epochs": 2, "warmup_steps": 0, "warmup_epochs": 2}, "warmup_epochs .* shorter"),
        ({"warmup_epochs": 1, "warmup_steps": 2}, "not both"),
    ],
)
def test_bad_recipe_names_the_problem(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _config(**overrides)


def test_warmup_as_long_as_the_run_is_rejected() -> None:
    with pytest.raises(ValueError, match="warm-up"):
        _train(_model(), _config(epochs=1, warmup_steps=4))


def test_stage_recipes_change_only_their_own_defaults() -> None:
    base, proxy, teacher = TrainingRecipe(), ProxyRecipe(), TeacherRecipe()
    assert (proxy.epochs, proxy.warmup_epochs, proxy.bn_recalibration_batches) == (9, 2.0, 10)  # §D.1
    assert (teacher.kd_alpha, teacher.or_lambda) == (0.0, 0.0)
    shared = set(TrainingRecipe.model_fields) - {"epochs", "warmup_epochs", "bn_recalibration_batches",
                                                 "batch_size", "kd_alpha", "or_lambda"}
    for name in shared:
        assert getattr(proxy, name) == getattr(teacher, name) == getattr(base, name), name
    with pytest.raises(ValueError, match="kd_alpha"):
        TeacherRecipe(kd_alpha=0.5)


def test_or_every_k_steps_applies_the_penalty_k_times_stronger_on_those_steps(monkeypatch) -> None:
    from trade_pipeline.training.losses import OrthogonalityPenalty

    calls = []
    real = OrthogonalityPenalty.__call__
    monkeypatch.setattr(OrthogonalityPenalty, "__call__", lambda penalty, lam: calls.append(lam) or real(penalty, lam))
    _train(_model(), _config(epochs=1, warmup_steps=0, or_lambda=1e-3, or_every=2))
    assert calls == pytest.approx([2e-3, 2e-3])  # updates 0 and 2 of 4


def test_evaluate_counts_top1_and_topk() -> None:
    logits = torch.tensor([[3.0, 2.0, 1.0, 0.0, -1.0, -2.0]] * 4)
    labels = torch.tensor([0, 1, 4, 5])  # ranks 1, 2, 5, 6
    top1, top5 = evaluate(_Constant(logits), [(torch.zeros(4, 1), labels)])
    assert (top1, top5) == (25.0, 75.0)


class _Constant(nn.Module):
    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits


def test_bn_recalibration_replaces_stale_running_stats_by_the_batch_average() -> None:
    """With recalibration the final BatchNorm statistics are the mean of the training batches'
    statistics, whatever the training did to them; the momentum is restored afterwards."""
    torch.manual_seed(0)
    inputs = torch.randn(64, 1, 2, 2) * 3.0 + 5.0
    batches = DataLoader(TensorDataset(inputs, torch.zeros(64, dtype=torch.long), torch.arange(64)), batch_size=16)
    model = nn.Sequential(nn.BatchNorm2d(1), nn.Flatten(), nn.Linear(4, 2))
    train_model(model, batches, batches, _config(epochs=1, kd_alpha=0.0, bn_recalibration_batches=3),
                options=RunOptions(progress=False))
    norm = model[0]
    expected_mean = torch.stack([inputs[i * 16:(i + 1) * 16].mean() for i in range(3)]).mean()
    torch.testing.assert_close(norm.running_mean, expected_mean.view(1))
    assert norm.momentum == 0.1 and norm.num_batches_tracked.item() == 3


class _Crash(Exception):
    pass


def _digits_run(checkpoint: Checkpoint | None = None, crash_after: int | None = None):
    """Three augmented epochs on 200 8x8 digits, optionally crashing after an epoch."""
    from trade_pipeline.data.augment import Augmentation
    from trade_pipeline.data.config import DataParams
    from trade_pipeline.data.loaders import make_loader
    from trade_pipeline.data.sources import load_source
    from trade_pipeline.data.split import make_split

    data = DataParams(dataset="digits", n_test=100, n_mini_val=100, n_mini_train=200)
    split = make_split(data, load_source(data))
    train = make_loader(split, "mini_train", 32, shuffle=True, seed=3, augment=Augmentation(scale=(0.6, 1.0), cutout=0.5))
    model = _model(seed=4)
    model[-1] = nn.Linear(8 * 8 * 8, 10)

    def on_epoch(row: dict) -> None:
        if row["epoch"] == crash_after:
            raise _Crash

    recipe = TrainingRecipe(epochs=3, lr=0.01, warmup_epochs=0.5, kd_alpha=0.0, or_lambda=1e-3)
    options = RunOptions(False, checkpoint=checkpoint, on_epoch=on_epoch)
    return model, train_model(model, train, make_loader(split, "test", 50), recipe, options=options)


def test_a_run_resumed_after_a_crash_ends_with_the_weights_of_an_uninterrupted_one(tmp_path) -> None:
    uninterrupted, result = _digits_run()
    checkpoint = Checkpoint(tmp_path / "run.safetensors", fingerprint="model-a")
    with pytest.raises(_Crash):
        _digits_run(checkpoint, crash_after=2)
    resumed, resumed_result = _digits_run(checkpoint)
    for name, tensor in uninterrupted.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name
    assert _without_timings(resumed_result.history) == _without_timings(result.history)
    assert resumed_result.steps == result.steps == 3 * 7


def test_a_checkpoint_of_another_model_is_refused_and_kept(tmp_path) -> None:
    path = tmp_path / "run.safetensors"
    with pytest.raises(_Crash):
        _digits_run(Checkpoint(path, fingerprint="model-a"), crash_after=1)
    saved = path.read_bytes()
    with pytest.raises(CheckpointMismatchError, match=r"run\.safetensors' was saved for another model"):
        _digits_run(Checkpoint(path, fingerprint="model-b"))
    assert path.read_bytes() == saved


def test_a_corrupt_checkpoint_is_refused_naming_it_and_kept(tmp_path) -> None:
    from trade_pipeline.serialization import CorruptFileError

    path = tmp_path / "run.safetensors"
    with pytest.raises(_Crash):
        _digits_run(Checkpoint(path, fingerprint="model-a"), crash_after=1)
    path.write_bytes(path.read_bytes()[:1000])  # a copy that stopped early
    cut = path.read_bytes()
    with pytest.raises(CorruptFileError, match=r"run\.safetensors' is truncated or corrupt .*delete it"):
        _digits_run(Checkpoint(path, fingerprint="model-a"))
    assert path.read_bytes() == cut


def test_the_edgetpu_recipe_comes_from_timms_factories_with_its_lr_scaled_to_the_batch() -> None:
    """conf/paper's retrain: RMSpropTF with eps 1e-3, lr 0.064 per 1,024 images, x0.97 every
    2.4 epochs after a warm-up from 1e-6 (timm's EfficientNet-EdgeTPU-S command)."""
    from timm.optim import RMSpropTF

    from trade_pipeline.training.engine import Trainer

    recipe = _config(optimizer="rmsproptf", opt_eps=1e-3, lr=0.064, lr_base_size=1024, batch_size=256,
                     warmup_lr=1e-6, sched="step", decay_epochs=2.4, decay_rate=0.97, weight_decay=1e-5,
                     epochs=10, warmup_epochs=1, warmup_steps=0, kd_alpha=0.0)
    assert recipe.scaled_lr == pytest.approx(0.016)
    steps_per_epoch = 10
    trainer = Trainer(_model(), recipe, recipe.total_steps(steps_per_epoch), recipe.warmup_updates(steps_per_epoch),
                      decay_steps=recipe.decay_updates(steps_per_epoch))
    assert isinstance(trainer.optimizer, RMSpropTF) and trainer.optimizer.defaults["eps"] == 1e-3
    # timm decays the weights, not biases and norms
    assert {group["weight_decay"] for group in trainer.optimizer.param_groups} == {0.0, 1e-5}
    lr_at = {}
    for update in (0, 10, 24, 48, 60):
        trainer.scheduler.step_update(num_updates=update)
        lr_at[update] = trainer.lr
    assert lr_at[0] == pytest.approx(1e-6)  # warm-up starts at warmup_lr
    assert lr_at[10] == pytest.approx(0.016 * 0.97**0)  # after warm-up, before the first 24-update decay
    assert lr_at[24] == pytest.approx(0.016 * 0.97) and lr_at[48] == pytest.approx(0.016 * 0.97**2)
    assert lr_at[60] == pytest.approx(0.016 * 0.97**2)
    # without the interval in updates, 2.4 would be read as updates rather than epochs: refused
    with pytest.raises(ValueError, match="decay_steps"):
        Trainer(_model(), recipe, recipe.total_steps(steps_per_epoch), recipe.warmup_updates(steps_per_epoch))


def test_an_ema_recipe_keeps_timms_moving_average_and_ends_with_it() -> None:
    """``ema_decay`` (the EdgeTPU recipe's 0.9999): after update k the average is
    ``d * average + (1 - d) * weights`` (the first update copies the weights), and the trained
    model takes the average's weights."""
    from trade_pipeline.training.engine import Trainer

    recipe = _config(ema_decay=0.9, bn_recalibration_batches=0)
    trainer = Trainer(_model(), recipe, total_steps=6, warmup_steps=0)
    average = None
    for images, labels, indices in list(_loader())[:5]:
        trainer.step(images, labels, indices)
        weights = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
        average = weights if average is None else {k: 0.9 * average[k] + 0.1 * weights[k]
                                                   if v.is_floating_point() else weights[k]
                                                   for k, v in average.items()}
    for key, value in trainer.ema.module.state_dict().items():
        torch.testing.assert_close(value, average[key])
    restored = Trainer(_model(1), recipe, total_steps=6, warmup_steps=0)
    restored.load_state_dict(trainer.state_dict())
    for (key, value), saved in zip(restored.ema.module.state_dict().items(), trainer.ema.module.state_dict().values()):
        torch.testing.assert_close(value, saved, rtol=0, atol=0)

    def trained(**ema) -> list[torch.Tensor]:
        model = _model()
        train_model(model, _loader(), _loader(shuffle=False), _config(epochs=2, **ema))
        return [value for value in model.state_dict().values() if value.is_floating_point()]

    plain = trained()
    for a, b in zip(trained(ema_decay=1e-9), plain):  # an average that forgets at once is the weights
        torch.testing.assert_close(a, b)
    assert not all(torch.allclose(a, b) for a, b in zip(trained(ema_decay=0.5), plain))

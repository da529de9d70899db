"""``kedro run --pipelines=search`` then ``retrain`` for real: trials, nested MLflow runs, Table 2, exports."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import timm

from trade_pipeline.serialization import load_model_artifact

from ..conftest import PROJECT


def _latest(folder: Path) -> Path:
    return sorted(folder.iterdir())[-1] / folder.name


def _runs(project: Path) -> list:
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    return [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]


def test_search_logs_every_candidate_as_a_row_and_a_nested_mlflow_run(searched):
    project, _ = searched
    data = project / "data"
    trials = pd.read_parquet(_latest(data / "07_model_output" / "search_trials.parquet"))
    assert len(trials) == 4 and trials["spec_hash"].is_unique  # conf/test: search.n_trials=4
    assert {"status", "score", "proxy_accuracy", "params", "macs", "latency_ms", "block_sequence",
            "strategy"} <= set(trials.columns)
    selected = json.loads(_latest(data / "07_model_output" / "selected_architectures.json").read_text())
    met = trials[(trials["status"] == "ok") & (trials["proxy_accuracy"] >= 25.0)]  # conf/test: acc_target 25
    assert len(met) >= 1 and [item["spec_hash"] for item in selected] == met.nsmallest(3, "score")["spec_hash"].tolist()
    for plot in ("search_progress", "pareto_front", "trust_region_trace"):
        assert (data / "08_reporting" / f"{plot}.png").stat().st_size > 0

    runs = _runs(project)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 4
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    child = children[0].data
    assert {"block_sequence", "stem_width"} <= set(child.params) and "macs" in child.metrics
    assert {"status", "trust_region", "strategy"} <= set(child.tags)
    assert parents[0].data.params["search.proxy.epochs"] == "1"  # typed parameters are logged flat


@pytest.fixture(scope="module")
def retrained(searched):
    project, run = searched
    run(project, ["retrain"])
    return project, run


def test_retrain_trains_the_selection_and_baselines_both_ways_and_exports_them(retrained):
    project, _ = retrained
    data = project / "data"
    report = pd.read_csv(_latest(data / "08_reporting" / "retrain_report.csv"))
    assert {"model", "teacher", "searched_by", "trained_by", "macs", "params", "latency_ms", "top1",
            "top5"} <= set(report.columns)
    assert report[["model", "trained_by"]].values.tolist() == [  # conf/test: 1 student, 1 baseline
        ["trade_1", "hard_label"], ["trade_1", "distill"], ["resnet", "hard_label"], ["resnet", "distill"]]
    assert report["top1"].between(0, 100).all() and (report["macs"] > 0).all()
    assert "| trade_1 |" in (data / "08_reporting" / "retrain_report.md").read_text()

    models = sorted((_latest(data / "06_models" / "retrained")).glob("*.safetensors"))
    assert [path.stem for path in models] == ["resnet-distill", "resnet-hard_label", "trade_1-distill",
                                             "trade_1-hard_label"]
    rebuilt = timm.create_model(f"local-dir:{data / '06_models' / 'exports' / 'trade_1-distill'}", pretrained=True)
    assert rebuilt.state_dict().keys() == load_model_artifact(models[2]).model.state_dict().keys()
    assert (data / "06_models" / "exports" / "resnet-hard_label" / "model.onnx").stat().st_size > 0

    runs = _runs(project)
    (parent,) = [r for r in runs if "retrain.trade_1.distill.top1" in r.data.metrics]
    jobs = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id
            and r.info.run_name.endswith("-seed0")]
    assert len(jobs) == 4 and all(len(job.data.metrics) >= 4 for job in jobs)  # top1, top5, loss, lr per epoch


def test_transfer_fine_tunes_every_distilled_model_on_the_digits_and_from_scratch(retrained):
    project, run = retrained
    run(project, ["transfer"])
    report = pd.read_csv(_latest(project / "data" / "08_reporting" / "transfer_report.csv"))
    assert report[["model", "dataset", "init"]].values.tolist() == [
        ["trade_1", "digits", "transferred"], ["trade_1", "digits", "scratch"],
        ["resnet", "digits", "transferred"], ["resnet", "digits", "scratch"]]
    table = (project / "data" / "08_reporting" / "transfer_report.md").read_text()
    assert table.splitlines()[0] == "| architecture | init | embedded_mnist (D) | digits |"
    (parent,) = [r for r in _runs(project) if "transfer.trade_1.digits.transferred.top1" in r.data.metrics]


def test_the_pareto_mode_searches_the_front_once_and_reads_any_target_off_it(retrained):
    """Runs last in this module: its search's datasets replace the Eq. 2 search's. Untracked, as
    conf/test has it (the module's other runs track)."""
    project, run = retrained
    shutil.copy(PROJECT / "conf" / "test" / "mlflow.yml", project / "conf" / "test" / "mlflow.yml")
    data = project / "data"
    # conf/test's teacher is tiny: its students weigh 3-12 teachers, beyond the default ceiling s = 3
    pareto = {"objective": "pareto", "state_dir": "data/07_model_output/search_state_pareto", "pareto": {"max_s": 20.0}}
    run(project, ["search"], {"search": pareto})
    trials = pd.read_parquet(_latest(data / "07_model_output" / "search_trials.parquet"))
    front = pd.read_parquet(_latest(data / "07_model_output" / "pareto_front.parquet"))
    summary = json.loads(_latest(data / "08_reporting" / "search_summary.json").read_text())
    ok = trials[trials["status"] == "ok"]
    beaten = [any((o["proxy_accuracy"] >= r["proxy_accuracy"]) & (o["resource_ratio"] <= r["resource_ratio"])
                  & ((o["proxy_accuracy"] > r["proxy_accuracy"]) | (o["resource_ratio"] < r["resource_ratio"]))
                  for _, o in ok.iterrows()) for _, r in ok.iterrows()]
    assert sorted(front["spec_hash"]) == sorted(ok.loc[[not b for b in beaten], "spec_hash"])
    assert summary["objective"] == "pareto" and summary["hypervolume"] > 0
    assert summary["hypervolume_reference"] == [10.0, 20.0]  # chance on ten digits; the ceiling given

    # another target: nothing is trained again, the front is read there
    lowest = float(front["proxy_accuracy"].min())
    run(project, ["search"], {"search": {**pareto, "score": {"acc_target": lowest}}})
    assert len((data / "07_model_output" / "search_state_pareto" / "trials.jsonl").read_text().splitlines()) == 4
    rescored = pd.read_parquet(_latest(data / "07_model_output" / "search_trials.parquet"))
    selected = json.loads(_latest(data / "07_model_output" / "selected_architectures.json").read_text())
    best = rescored[rescored["spec_hash"].isin(front["spec_hash"])].nsmallest(1, "score")
    assert selected[0]["spec_hash"] == best["spec_hash"].item()
    assert selected[0]["score"] == pytest.approx(lowest / (best["proxy_accuracy"].item() * 1.01)
                                                 * best["resource_ratio"].item())

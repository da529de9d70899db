"""The job loop the retrain and the transfer share: results in order, earlier checkpoints kept."""
from __future__ import annotations

import logging

from trade_pipeline.job_runner import JobSettings, run_jobs


def _run(job: int, device: str) -> dict:
    ok = job != 2
    return {"job": f"job{job}", "status": "ok" if ok else "failed", "reason": None if ok else "diverged",
            "top1": 50.0 + job if ok else None, "top5": None, "seconds": 0.1, "history": [], "device": device}


def test_jobs_run_in_order_and_failures_are_reported(tmp_path, caplog) -> None:
    settings = JobSettings(checkpoint_dir=str(tmp_path / "checkpoints"))
    with caplog.at_level(logging.INFO, logger="trade_pipeline.job_runner"):
        results = run_jobs("Stage", [1, 2, 3], _run, settings, ("device",))
    assert [r["job"] for r in results] == ["job1", "job2", "job3"] and results[0]["device"] == "cpu"
    assert "Stage 3/3: job3 ok, test top-1 53.00 %" in caplog.text
    assert "Stage job job2 failed: diverged" in caplog.text


def test_without_resume_earlier_checkpoints_are_set_aside_not_deleted(tmp_path) -> None:
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    (folder / "job1.safetensors").write_bytes(b"earlier")
    run_jobs("Stage", [1], _run, JobSettings(checkpoint_dir=str(folder), resume=False), ())
    kept = [path for path in tmp_path.rglob("job1.safetensors") if path.parent != folder]
    assert not folder.exists() or not (folder / "job1.safetensors").exists()
    assert len(kept) == 1 and kept[0].read_bytes() == b"earlier"

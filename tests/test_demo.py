"""``make demo`` (up42_provider/demo.py): emulator + private Airflow home + ``airflow dags test`` of the
example DAGs. One pipeline of each API generation end to end here (the DAGs themselves are covered
by tests/examples)."""

from __future__ import annotations

from up42_provider.demo import PIPELINES, progress_line, run_demo, summary


def test_demo_runs_a_pipeline_with_airflow_and_lists_its_outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "not-this-one"))  # the demo uses its own
    lines: list[str] = []
    result = run_demo(
        tmp_path / "out",
        speed=100,
        dag_ids=["up42_processing", "up42_current_archive_processing"],
        poll_interval=0.5,
        echo=lines.append,
    )
    shown = "\n".join(lines)
    assert result.ok, shown
    assert result.runs == {"up42_processing": True, "up42_current_archive_processing": True}
    # A person can follow it: the tasks, the deferral, the provider's messages - not Airflow's chatter.
    for expected in (
        "airflow db migrate",
        "> run_job",
        "> run_processing",
        "deferred",
        "Rendered",
        "up42_processing: success",
        "up42_current_archive_processing: success",
    ):
        assert expected in shown, expected
    assert "Bulk-writing dags" not in shown and "::group::" not in shown
    assert not (tmp_path / "not-this-one").exists()

    out = result.output
    assert (out / ".airflow" / "airflow.db").exists()
    assert result.files(".tif", below="processing")
    assert (out / "processing" / "plots" / "results.png").stat().st_size > 0
    assert (out / "processing" / "plots" / "results.html").stat().st_size > 0
    assert result.files(".tif", below="current/results") and result.files(".tif", below="bucket/current")
    (archive,) = result.files(".tgz", below="bucket")
    text = summary(result)
    for expected in ("GeoTIFFs (3)", "results.png", "results.html", archive.name, "current/results/job_"):
        assert expected in text, text


STAMP = "2026-01-01T10:00:00.123Z [info     ] "


def test_progress_filter_keeps_what_matters():
    task = (
        STAMP + "[DAG TEST] starting task_id=run_job map_index=-1 [airflow.sdk.definitions.dag] loc=dag.py:1"
    )
    chatter = STAMP + "Filling up the DagBag from /x [airflow.dag_processing.dagbag.DagBag] loc=dagbag.py:460"
    provider = (
        STAMP + "Job abc succeeded [airflow.task.operators.up42_provider.operators.job.Op] loc=job.py:1"
    )
    assert progress_line(task) == "  10:00:00  > run_job"
    assert progress_line(chatter) is None
    assert progress_line(provider).endswith("Job abc succeeded")
    assert progress_line("3 GeoTIFF(s): [...]").strip() == "3 GeoTIFF(s): [...]"  # a task's print()
    assert set(PIPELINES) >= {"up42_archive_imagery", "up42_processing", "up42_downstream"}

"""The fault suite's arithmetic (bench/chaos/tally.py): what counts as lost, duplicated, a 5xx."""

from types import SimpleNamespace

from bench.chaos import tally

ORDER = ["baseline", "restart"]


def exchange(request_id, status, expected, *, stage="baseline", at=1.0, code=""):
    return SimpleNamespace(
        request_id=request_id,
        status=status,
        expected=expected,
        stage=stage,
        started=at,
        ended=at + 0.1,
        code=code,
    )


def test_lost_and_duplicated_events_are_counted_per_stage():
    exchanges = [
        exchange("a", 201, ["file_upload success", "task_create success"]),
        exchange("b", 200, ["auth_login success (jwt)"]),
        exchange("c", 200, ["auth_token_refresh success"], stage="restart"),
    ]
    rows = [
        ("a", "file_upload success"),
        ("b", "auth_login success (jwt)"),
        ("b", "auth_login success (jwt)"),
        ("c", "auth_token_refresh success"),
    ]
    baseline, restart = tally.count_stages(exchanges, rows, [], ORDER)
    assert (baseline.requests, baseline.lost, baseline.duplicated) == (2, 1, 1)
    assert (restart.lost, restart.duplicated) == (0, 0)


def test_a_5xx_counts_against_the_promise_only_outside_a_restart_window():
    exchanges = [
        exchange("a", 500, None, at=5.0),
        exchange("b", 502, None, at=20.0),
        exchange("c", None, None, at=21.0),
    ]
    (baseline, _) = tally.count_stages(exchanges, [], [(4.0, 6.0)], ORDER)
    assert (baseline.answered_5xx_inside, baseline.answered_5xx_outside) == (1, 1)
    assert baseline.no_answer == 1
    verdict = tally.Verdict(stages=[baseline])
    assert tally.judge(verdict) == ["baseline: 1 5xx outside a restart window"]


def test_a_storage_full_refusal_is_kept_only_with_its_audit_row():
    refused = exchange("a", 507, None, code="storage_full")
    (kept, _) = tally.count_stages([refused], [("a", "file_upload failure")], [], ORDER)
    (lost, _) = tally.count_stages([refused], [], [], ORDER)
    assert (kept.storage_full, kept.answered_5xx_outside, kept.lost) == (1, 0, 0)
    assert lost.lost == 1


def test_tasks_not_completed_and_a_failed_verify_break_the_run():
    stage = tally.StageCount("baseline", verify_exit=3)
    verdict = tally.Verdict(stages=[stage], tasks_submitted=4, tasks_completed=3, tasks_stuck=1)
    assert tally.judge(verdict) == [
        "baseline: verify_audit_chain exited 3",
        "tasks: 3 of 4 completed (1 stuck, 0 failed)",
    ]
    assert "| tasks submitted / completed | 4 / 3 |" in tally.markdown(verdict)

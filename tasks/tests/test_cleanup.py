"""Cleanup: old tasks and orphaned files go (after commit), with exact statistics."""

import io
import os
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from tasks.cleanup import cleanup_tasks
from tasks.models import OcrTask

from . import samples
from .conftest import upload_file

CLEANUP = "/api/v2/admin/cleanup"
PNG = samples.encode_image(samples.make_text_image(samples.KNOWN_WORDS), format="PNG")
JPEG = samples.encode_image(samples.make_text_image(["meadow"]), format="JPEG")

pytestmark = pytest.mark.django_db


class Rollback(Exception):
    pass


def make_old(task, *, days: int):
    OcrTask.objects.filter(pk=task.pk).update(created_at=task.created_at - timedelta(days=days))


def write_orphan(file_store, relative: str, data: bytes, *, age_seconds: int = 7200):
    return file_store.write(relative, data, age_seconds=age_seconds)


@pytest.fixture
def scene(settings, user, other_user, make_task, make_task_row, file_store):
    """Two old tasks (one whose file is already gone), a recent one and two orphans."""
    settings.OCR_ORPHAN_GRACE_SECONDS = 0
    old = make_task(user, upload_file(PNG, "old.png"))
    make_old(old, days=40)
    old_missing = make_task_row(other_user, age=timedelta(days=31))
    recent = make_task(user, upload_file(JPEG, "recent.jpg"))
    make_old(recent, days=29)
    orphans = [
        write_orphan(file_store, "uploads/2020/01/" + "a" * 32 + ".png", b"x" * 300),
        write_orphan(file_store, "staging/tmpabc123.pdf", b"y" * 45),
    ]
    return {
        "old": old,
        "old_missing": old_missing,
        "recent": recent,
        "orphans": orphans,
        # What a 30-day cleanup frees: the old task's file and both orphans.
        "stats": {
            "older_than_days": 30,
            "tasks_deleted": 2,
            "files_deleted": 1,
            "orphan_files_deleted": 2,
            "temp_files_deleted": 0,
            "bytes_freed": len(PNG) + 300 + 45,
        },
    }


def test_cleanup_deletes_old_tasks_files_and_orphans(
    scene, staff, client_for, stored_files, audit_events, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(staff).post(
            CLEANUP, {"older_than_days": 30}, content_type="application/json"
        )

    assert response.status_code == 200
    assert response.json() == {**scene["stats"], "dry_run": False}
    assert list(OcrTask.objects.all()) == [scene["recent"]]
    assert stored_files() == [scene["recent"].file.name]
    [event] = audit_events("admin_cleanup")
    assert (event.user, event.message) == (staff, "Cleanup done")
    assert event.metadata == {"via": "api", "dry_run": False, **scene["stats"]}
    assert len(audit_events("task_delete")) == 2


def test_cleanup_past_one_batch_deletes_and_records_every_old_task(
    user, make_task_row, monkeypatch, audit_events
):
    monkeypatch.setattr("tasks.cleanup.DELETE_BATCH", 2)
    old = [make_task_row(user, age=timedelta(days=40)) for _ in range(5)]
    recent = make_task_row(user, age=timedelta(days=1))

    stats = cleanup_tasks(older_than_days=30, dry_run=False, actor=None, via="command")

    assert stats.tasks_deleted == 5
    assert list(OcrTask.objects.all()) == [recent]
    recorded = sorted(event.resource_id for event in audit_events("task_delete"))
    assert recorded == sorted(str(task.pk) for task in old)


def test_dry_run_reports_the_same_numbers_and_deletes_nothing(
    scene, staff, client_for, stored_files, audit_events, django_capture_on_commit_callbacks
):
    before = stored_files()

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(staff).post(
            CLEANUP, {"older_than_days": 30, "dry_run": True}, content_type="application/json"
        )

    assert response.json() == {**scene["stats"], "dry_run": True}
    assert OcrTask.objects.count() == 3
    assert stored_files() == before
    assert audit_events("task_delete") == []
    [event] = audit_events("admin_cleanup")
    assert event.message == "Dry run: nothing deleted"
    assert event.metadata == {"via": "api", "dry_run": True, **scene["stats"]}


def test_files_go_only_after_the_deletion_commits(
    scene, staff, stored_files, django_capture_on_commit_callbacks
):
    before = stored_files()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        cleanup_tasks(older_than_days=30, dry_run=False, actor=staff)
        # Rows are gone inside the transaction; every file is still there.
        assert OcrTask.objects.count() == 1
        assert stored_files() == before

    for callback in callbacks:
        callback()
    assert stored_files() == [scene["recent"].file.name]


def test_rolled_back_cleanup_leaves_rows_and_files(scene, staff, stored_files):
    before = stored_files()

    with pytest.raises(Rollback), transaction.atomic():
        cleanup_tasks(older_than_days=30, dry_run=False, actor=staff)
        raise Rollback

    assert OcrTask.objects.count() == 3
    assert stored_files() == before


def test_recent_orphans_are_kept_for_the_grace_period(
    settings, staff, file_store, stored_files, django_capture_on_commit_callbacks
):
    settings.OCR_ORPHAN_GRACE_SECONDS = 3600
    fresh = write_orphan(file_store, "staging/uploading.png", b"z" * 10, age_seconds=60)
    stale = write_orphan(file_store, "staging/abandoned.png", b"z" * 20, age_seconds=7200)

    with django_capture_on_commit_callbacks(execute=True):
        stats = cleanup_tasks(older_than_days=30, dry_run=False, actor=staff)

    assert (stats.orphan_files_deleted, stats.bytes_freed) == (1, 20)
    assert stale not in stored_files()
    assert stored_files() == [fresh]


@pytest.mark.local_storage  # only a local folder storage can hold a symbolic link
def test_orphan_symlinks_are_not_followed(
    settings, staff, media_root, file_store, tmp_path, django_capture_on_commit_callbacks
):
    settings.OCR_ORPHAN_GRACE_SECONDS = 0
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    link = media_root / "uploads" / "2020" / "01" / "link.png"
    link.parent.mkdir(parents=True)
    link.symlink_to(precious)

    with django_capture_on_commit_callbacks(execute=True):
        stats = cleanup_tasks(older_than_days=30, dry_run=False, actor=staff)

    assert stats.orphan_files_deleted == 0
    assert precious.read_text() == "keep me"


def test_orphans_under_derived_and_thumbnails_go_and_referenced_outputs_stay(
    settings,
    staff,
    user,
    make_task,
    processed,
    page_client,
    file_store,
    stored_files,
    django_capture_on_commit_callbacks,
):
    """A dead attempt's searchable PDF and page image, and a deleted task's thumbnail."""
    settings.OCR_ORPHAN_GRACE_SECONDS = 0
    task = processed(make_task(user))
    page_client.get(f"/tasks/{task.pk}/thumbnail.png")
    kept = stored_files()
    assert task.searchable_pdf.name in kept and f"thumbnails/{task.pk}.png" in kept
    gone = "0" * 32
    orphans = [
        write_orphan(file_store, f"derived/{task.pk}/searchable_AbC1234.pdf", b"%PDF-1.7 " * 20),
        write_orphan(file_store, f"derived/{gone}/page-0001.jpg", b"j" * 30),
        write_orphan(file_store, f"thumbnails/{gone}.png", b"p" * 7),
    ]

    with django_capture_on_commit_callbacks(execute=True):
        stats = cleanup_tasks(older_than_days=30, dry_run=False, actor=staff)

    assert (stats.orphan_files_deleted, stats.bytes_freed) == (3, 180 + 30 + 7)
    assert stored_files() == kept
    assert not any(file_store.exists(name) for name in orphans)


def test_files_outside_uploads_and_staging_are_not_orphans(
    settings, staff, file_store, django_capture_on_commit_callbacks
):
    settings.OCR_ORPHAN_GRACE_SECONDS = 0
    other = write_orphan(file_store, "avatars/me.png", b"me")

    with django_capture_on_commit_callbacks(execute=True):
        stats = cleanup_tasks(older_than_days=0, dry_run=False, actor=staff)

    assert stats.orphan_files_deleted == 0
    assert file_store.exists(other)


def test_cleanup_defaults_to_the_configured_age(settings, staff, client_for, user, make_task_row):
    settings.OCR_CLEANUP_DAYS = 10
    make_task_row(user, age=timedelta(days=11))
    make_task_row(user, age=timedelta(days=9))

    response = client_for(staff).post(CLEANUP, {}, content_type="application/json")

    assert response.json()["older_than_days"] == 10
    assert response.json()["tasks_deleted"] == 1
    assert OcrTask.objects.count() == 1


def test_cleanup_is_staff_only(scene, user, client, client_for, stored_files):
    before = stored_files()

    as_user = client_for(user).post(
        CLEANUP, {"older_than_days": 0}, content_type="application/json"
    )
    as_nobody = client.post(CLEANUP, {"older_than_days": 0}, content_type="application/json")

    assert as_user.status_code == 403
    assert as_nobody.status_code == 401
    assert OcrTask.objects.count() == 3
    assert stored_files() == before


@pytest.mark.parametrize("days", [-1, "soon", 100000])
def test_cleanup_refuses_bad_ages(staff, client_for, days):
    response = client_for(staff).post(
        CLEANUP, {"older_than_days": days}, content_type="application/json"
    )

    assert response.status_code == 400
    assert list(response.json()) == ["older_than_days"]


def test_cleanup_command_prints_statistics(scene, stored_files, audit_events):
    before = stored_files()
    out = io.StringIO()

    call_command("cleanup_tasks", "--older-than-days", "30", "--dry-run", stdout=out)

    bytes_freed = scene["stats"]["bytes_freed"]
    assert out.getvalue() == (
        "Would delete 2 task(s), 1 task file(s), 2 orphaned file(s) and 0 abandoned upload "
        f"spool file(s); {bytes_freed:,} bytes freed.\n"
    )
    assert OcrTask.objects.count() == 3
    assert stored_files() == before
    [event] = audit_events("admin_cleanup")
    assert event.metadata["dry_run"] is True


def test_cleanup_command_deletes(scene, stored_files, django_capture_on_commit_callbacks):
    out = io.StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("cleanup_tasks", "--older-than-days", "30", stdout=out)

    assert out.getvalue().startswith("Deleted 2 task(s), 1 task file(s), 2 orphaned file(s)")
    assert stored_files() == [scene["recent"].file.name]


def test_admin_cleanup_page(
    scene, staff, client_for, stored_files, audit_events, django_capture_on_commit_callbacks
):
    admin = client_for(staff)
    url = "/admin/tasks/ocrtask/cleanup/"

    form = admin.get(url)
    dry = admin.post(url, {"older_than_days": 30, "dry_run": "on"})
    confirmation = admin.post(url, {"older_than_days": 30})
    assert OcrTask.objects.count() == 3
    as_of = re.search(r'name="as_of" value="([^"]+)"', confirmation.content.decode()).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        done = admin.post(url, {"older_than_days": 30, "confirmed": "on", "as_of": as_of})

    assert form.status_code == 200
    assert 'name="older_than_days"' in form.content.decode()
    assert "Dry run: would delete" in dry.content.decode()
    assert f"({scene['stats']['bytes_freed']})" in dry.content.decode()
    assert "<h2>Deleted</h2>" in done.content.decode()
    # Back with "Dry run" ticked and the same age.
    assert re.search(r'name="dry_run"[^>]* checked', done.content.decode())
    assert 'name="older_than_days" value="30"' in done.content.decode()
    assert stored_files() == [scene["recent"].file.name]
    assert [event.metadata["via"] for event in audit_events("admin_cleanup")] == [
        "admin",
        "admin",
    ]
    assert "/admin/tasks/ocrtask/cleanup/" in admin.get("/admin/tasks/ocrtask/").content.decode()


def test_admin_cleanup_form_shows_no_labels_for_its_hidden_fields(staff, client_for):
    page = client_for(staff).get("/admin/tasks/ocrtask/cleanup/").content.decode()

    assert 'name="confirmed"' in page and 'name="as_of"' in page
    assert "Confirmed:" not in page
    assert "As of:" not in page
    assert "Older than (days):" in page


def test_admin_cleanup_page_is_not_for_users(scene, user, client_for):
    response = client_for(user).post("/admin/tasks/ocrtask/cleanup/", {"older_than_days": 0})

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert OcrTask.objects.count() == 3


def test_admin_cleanup_page_needs_delete_permission(scene, make_user, client_for, stored_files):
    viewer = make_user(username="viewer", staff=True)
    before = stored_files()

    response = client_for(viewer).post("/admin/tasks/ocrtask/cleanup/", {"older_than_days": 0})

    assert response.status_code == 403
    assert AuditEvent.objects.filter(event_type="access_denied", username="viewer").exists()
    assert OcrTask.objects.count() == 3
    assert stored_files() == before


def test_cleanup_sweeps_upload_spool_files_a_killed_worker_left(
    db, settings, django_capture_on_commit_callbacks
):
    spool = Path(settings.FILE_UPLOAD_TEMP_DIR)
    abandoned, live = spool / "abandoned.upload", spool / "live.upload"
    abandoned.write_bytes(b"x" * 100)
    live.write_bytes(b"y" * 10)
    old = time.time() - settings.OCR_ORPHAN_GRACE_SECONDS - 60
    os.utime(abandoned, (old, old))

    with django_capture_on_commit_callbacks(execute=True):
        stats = cleanup_tasks(older_than_days=30, dry_run=False, actor=None, via="command")

    assert (stats.temp_files_deleted, stats.bytes_freed) == (1, 100)
    assert sorted(path.name for path in spool.iterdir()) == ["live.upload"]


def test_admin_real_cleanup_asks_first_listing_whose_tasks_and_files_go(
    scene, staff, user, other_user, client_for, stored_files
):
    before = stored_files()

    page = client_for(staff).post("/admin/tasks/ocrtask/cleanup/", {"older_than_days": 30})

    body = page.content.decode()
    assert page.status_code == 200
    # The heading asks "Are you sure?"; the summary says what goes, without asking twice.
    summary = re.search(r'<p id="cleanup-summary">(.*?)</p>', body, re.S).group(1)
    assert "<h1>Are you sure?</h1>" in body
    assert summary.startswith("2 tasks created before")
    # One row per owner: tasks, stored files (the other user's file is already gone).
    plan = re.search(r'<table id="cleanup-plan">(.*?)</table>', body, re.S).group(1)
    rows = re.findall(r"<tr><td>([^<]+)</td><td>(\d+)</td><td>(\d+)</td></tr>", plan)
    assert sorted(rows) == sorted([(user.username, "1", "1"), (other_user.username, "1", "0")])
    assert "2 orphaned files" in body
    assert '<ol class="breadcrumbs">' in body
    assert OcrTask.objects.count() == 3
    assert stored_files() == before


def test_confirmed_cleanup_spares_tasks_that_aged_after_the_listing(scene, staff, client_for):
    # The page listed tasks older than 30 days two days ago: the 31-day-old task was
    # 29 days old then and was not listed, so the "Yes" does not delete it.
    client_for(staff).post(
        "/admin/tasks/ocrtask/cleanup/",
        {
            "older_than_days": 30,
            "confirmed": "on",
            "as_of": (timezone.now() - timedelta(days=2)).isoformat(),
        },
    )

    assert set(OcrTask.objects.values_list("pk", flat=True)) == {
        scene["recent"].pk,
        scene["old_missing"].pk,
    }

"""Why a task failed, read in the visitor's language: by the stored code, old rows too."""

from django.core.files.storage import default_storage
from django.utils import translation

from tasks.models import Status


def test_a_task_whose_file_vanished_fails_with_a_code_shown_in_chinese(
    user, page_client, make_task, processed
):
    task = make_task(user)
    default_storage.delete(task.file.name)
    task = processed(task)
    assert (task.status, task.error_code) == (Status.FAILED, "missing_file")
    # The stored (and audited) message stays English; the page translates by the code.
    assert task.error == "The uploaded file is missing from storage."
    page = page_client.get(f"/tasks/{task.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "上传的文件在存储中已不存在。" in page.content.decode()
    assert "missing from storage" not in page.content.decode()


def test_rows_failed_before_codes_still_read_in_chinese_or_as_stored(
    user, page_client, make_task_row
):
    old = make_task_row(
        user, status=Status.FAILED, error="The uploaded file is missing from storage."
    )
    other = make_task_row(user, status=Status.FAILED, error="Something only English said.")
    listing = page_client.get("/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "上传的文件在存储中已不存在。" in listing
    assert "Something only English said." in listing
    with translation.override("en"):
        assert old.failure_message == "The uploaded file is missing from storage."
        assert other.failure_message == "Something only English said."

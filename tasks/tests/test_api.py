"""The task API under /api/v2/tasks: own tasks only, filters, results, retry, delete."""

import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tasks.models import OcrTask, Status

from . import samples
from .conftest import API_TASKS, upload_file
from .samples import words_in

PNG = samples.encode_image(samples.make_text_image(samples.KNOWN_WORDS), format="PNG")
TASK_KEYS = {
    "id",
    "status",
    "original_name",
    "content_type",
    "size",
    "sha256",
    "page_count",
    "pages_done",
    "phase",
    "phase_label",
    "no_text_found",
    "engine",
    "force_ocr",
    "language",
    "error",
    "created_at",
    "started_at",
    "finished_at",
}

pytestmark = pytest.mark.django_db


def detail(task) -> str:
    return f"{API_TASKS}/{task.pk}"


@pytest.fixture
def api(user, client_for) -> Client:
    return client_for(user)


def test_list_shows_only_own_tasks_newest_first(api, user, other_user, make_task_row):
    oldest = make_task_row(user, age=timedelta(days=2))
    newest = make_task_row(user)
    middle = make_task_row(user, age=timedelta(days=1))
    make_task_row(other_user)

    body = api.get(API_TASKS).json()

    assert body["count"] == 3
    assert [item["id"] for item in body["results"]] == [
        str(newest.pk),
        str(middle.pk),
        str(oldest.pk),
    ]


def test_list_is_paginated(api, user, make_task_row):
    for days in range(51):
        make_task_row(user, age=timedelta(days=days))

    first = api.get(API_TASKS).json()
    second = api.get(first["next"]).json()

    assert set(first) == {"count", "next", "previous", "results"}
    assert (first["count"], len(first["results"]), first["previous"]) == (51, 50, None)
    assert first["next"].endswith(f"{API_TASKS}?page=2")
    assert (len(second["results"]), second["next"]) == (1, None)
    assert second["previous"] is not None
    assert second["results"][0]["original_name"] not in {
        item["original_name"] for item in first["results"]
    }


def test_task_json_has_exactly_the_documented_keys(api, user, make_task):
    task = make_task(user)

    listed = api.get(API_TASKS).json()["results"][0]
    one = api.get(detail(task)).json()

    assert set(listed) == set(one) == TASK_KEYS
    assert one == listed
    assert one["id"] == str(task.pk)
    assert (one["status"], one["error"], one["started_at"], one["finished_at"]) == (
        "queued",
        "",
        None,
        None,
    )
    assert (one["phase"], one["phase_label"], one["no_text_found"]) == ("queued", "Queued", False)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=failed", ["failed-rapid"]),
        ("status=completed", ["done-tess"]),
        ("engine=rapidocr", ["failed-rapid"]),
        ("engine=tesseract", ["done-tess", "old-tess"]),
        ("created_after={week_ago}", ["failed-rapid", "done-tess"]),
        ("created_before={week_ago}", ["old-tess"]),
        ("status=queued&engine=tesseract", ["old-tess"]),
        ("q=harbour", ["failed-rapid", "old-tess"]),
        ("q=tides%20harbour", ["old-tess"]),
        ("q=harbour&sort=name", ["failed-rapid", "old-tess"]),
        ("q=nowhere", []),
        ("sort=name", ["done-tess", "failed-rapid", "old-tess"]),
        ("sort=-name", ["old-tess", "failed-rapid", "done-tess"]),
        ("sort=status", ["old-tess", "done-tess", "failed-rapid"]),
        ("sort=-pages", ["done-tess", "old-tess", "failed-rapid"]),
        ("sort=created", ["old-tess", "done-tess", "failed-rapid"]),
    ],
)
def test_list_filters(api, user, make_task_row, query, expected):
    make_task_row(
        user,
        original_name="old-tess",
        age=timedelta(days=10),
        result_text="Harbour\fTides",
        page_count=2,
    )
    make_task_row(
        user,
        original_name="done-tess",
        status=Status.COMPLETED,
        age=timedelta(days=1),
        page_count=5,
    )
    make_task_row(
        user,
        original_name="failed-rapid",
        status=Status.FAILED,
        engine="rapidocr",
        language="ch",
        result_text="harbour",
    )
    week_ago = (timezone.now() - timedelta(days=7)).isoformat()

    response = api.get(f"{API_TASKS}?{query.format(week_ago=week_ago)}".replace("+", "%2B"))

    assert response.status_code == 200
    assert [item["original_name"] for item in response.json()["results"]] == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=done", "status"),
        ("engine=abbyy", "engine"),
        ("created_after=yesterday", "created_after"),
        ("created_before=2024-13-45", "created_before"),
        ("sort=size", "sort"),
    ],
)
def test_bad_filter_values_are_400_naming_the_filter(api, query, field):
    response = api.get(f"{API_TASKS}?{query}")

    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_upload_with_a_bearer_token(client, user, api_login, png_upload):
    access = api_login(user)["access"]

    response = client.post(
        API_TASKS, {"file": [png_upload()]}, HTTP_AUTHORIZATION=f"Bearer {access}"
    )

    assert response.status_code == 201, response.content
    assert OcrTask.objects.get().owner == user


def test_result_as_text_and_json(api, user, make_task, processed):
    task = processed(make_task(user, upload_file(PNG, "march invoice.png")))

    text = api.get(f"{detail(task)}/result?format=txt")
    document = api.get(f"{detail(task)}/result?format=json")

    assert text.status_code == 200
    assert text["Content-Type"] == "text/plain; charset=utf-8"
    assert text["Content-Disposition"] == 'attachment; filename="march invoice.txt"'
    assert text.content.decode() == task.result_text
    assert set(samples.KNOWN_WORDS) <= words_in(text.content.decode())

    assert document.status_code == 200
    assert document["Content-Type"] == "application/json"
    assert document["Content-Disposition"] == 'attachment; filename="march invoice.json"'
    body = document.json()
    assert (body["id"], body["status"], body["page_count"]) == (str(task.pk), "completed", 1)
    [page] = body["pages"]
    assert (page["page"], page["source"]) == (1, "ocr")
    assert set(samples.KNOWN_WORDS) <= words_in(page["text"])
    assert 50 < page["confidence"] <= 100
    assert page["lines"]
    for line in page["lines"]:
        x0, y0, x1, y1 = line["box"]
        assert 0 <= x0 < x1 <= page["width"] and 0 <= y0 < y1 <= page["height"]
        assert line["text"] and 0 <= line["confidence"] <= 100


def test_result_defaults_to_json(api, user, make_task, processed):
    task = processed(make_task(user))

    response = api.get(f"{detail(task)}/result")

    assert response.status_code == 200
    assert response.json()["pages"][0]["source"] == "ocr"


@pytest.mark.parametrize("status", [Status.QUEUED, Status.PROCESSING, Status.FAILED])
def test_result_of_an_unfinished_task_is_404_with_a_message(api, user, make_task_row, status):
    task = make_task_row(user, status=status)

    response = api.get(f"{detail(task)}/result?format=json")

    assert response.status_code == 404
    assert response.json()["detail"] == f"No result yet: the task is {status}."


def test_text_result_errors_are_plain_text(api, user, other_user, make_task_row):
    unfinished = make_task_row(user)
    foreign = make_task_row(other_user, status=Status.COMPLETED)

    not_yet = api.get(f"{detail(unfinished)}/result?format=txt")
    not_yours = api.get(f"{detail(foreign)}/result?format=txt")

    assert (not_yet.status_code, not_yet["Content-Type"]) == (404, "text/plain; charset=utf-8")
    assert not_yet.content.decode() == "No result yet: the task is queued."
    assert (not_yours.status_code, not_yours.content.decode()) == (404, "No such task.")


def test_retry_of_a_completed_task_is_400(api, user, make_task, processed, audit_events):
    task = processed(make_task(user))

    response = api.post(f"{detail(task)}/retry")

    assert response.status_code == 400
    assert response.json() == {
        "status": ["Only failed tasks can be retried; this one is completed."]
    }
    task.refresh_from_db()
    assert task.status == Status.COMPLETED
    assert audit_events("task_retry") == []


@pytest.mark.django_db(transaction=True)
def test_retry_of_a_failed_task_completes_after_the_worker_runs(
    user, client_for, make_task, run_worker, file_store
):
    api = client_for(user)
    task = make_task(user)
    good = file_store.read(task.file.name)
    file_store.write(task.file.name, b"garbage")
    run_worker()
    task.refresh_from_db()
    assert task.status == Status.FAILED
    file_store.write(task.file.name, good)

    response = api.post(f"{detail(task)}/retry")

    assert response.status_code == 202
    body = response.json()
    assert set(body) == TASK_KEYS
    assert (body["status"], body["error"], body["pages_done"]) == ("queued", "", 0)
    run_worker()
    task.refresh_from_db()
    assert (task.status, task.error) == (Status.COMPLETED, "")
    assert set(samples.KNOWN_WORDS) <= words_in(task.result_text)


def test_delete_own_task(api, user, make_task, stored_files, django_capture_on_commit_callbacks):
    task = make_task(user)

    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(detail(task))

    assert response.status_code == 204
    assert not OcrTask.objects.exists()
    assert stored_files() == []


def test_another_users_task_is_404_on_every_route(
    user, other_user, client_for, make_task, processed, stored_files
):
    task = processed(make_task(other_user))
    intruder = client_for(user)

    responses = [
        intruder.get(detail(task)),
        intruder.delete(detail(task)),
        intruder.get(f"{detail(task)}/result?format=json"),
        intruder.get(f"{detail(task)}/result?format=txt"),
        intruder.post(f"{detail(task)}/retry"),
    ]

    assert [response.status_code for response in responses] == [404] * 5
    assert responses[0].json() == {"detail": "No such task.", "code": "not_found"}
    assert OcrTask.objects.get().status == Status.COMPLETED
    assert stored_files() == sorted([task.file.name, task.searchable_pdf.name])
    assert intruder.get(API_TASKS).json()["count"] == 0


def test_unknown_task_id_is_404(api):
    assert api.get(f"{API_TASKS}/{uuid.uuid4()}").status_code == 404


def test_anonymous_is_401_on_every_route(client, user, make_task, png_upload):
    task = make_task(user)

    responses = [
        client.get(API_TASKS),
        client.post(API_TASKS, {"file": [png_upload()]}),
        client.get(detail(task)),
        client.delete(detail(task)),
        client.get(f"{detail(task)}/result"),
        client.post(f"{detail(task)}/retry"),
        client.post("/api/v2/admin/cleanup", {}, content_type="application/json"),
    ]

    assert [response.status_code for response in responses] == [401] * 7
    assert OcrTask.objects.count() == 1

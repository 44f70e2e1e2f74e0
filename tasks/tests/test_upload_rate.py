"""One upload bucket per user, shared by the upload page and the API (UPLOAD_THROTTLE_RATE)."""

import pytest

from audit.models import AuditEvent
from tasks.models import OcrTask
from tasks.throttling import UploadRateThrottle

from .conftest import API_TASKS

pytestmark = pytest.mark.usefixtures("fresh_cache")


@pytest.fixture
def three_a_minute(monkeypatch):
    monkeypatch.setattr(UploadRateThrottle, "THROTTLE_RATES", {"upload": "3/min"})


def test_the_page_and_the_api_share_one_bucket_per_user(
    three_a_minute, user, make_user, client_for, png_upload, stored_files
):
    alice = client_for(user)
    for _ in range(2):
        assert alice.post("/tasks/upload/", {"file": [png_upload()]}).status_code == 302
    assert alice.post(API_TASKS, {"file": [png_upload()]}).status_code == 201
    stored = stored_files()

    api = alice.post(API_TASKS, {"file": [png_upload()]})
    page = alice.post("/tasks/upload/", {"file": [png_upload()]})

    assert api.status_code == 429
    assert api.json()["code"] == "throttled"
    assert "Too many uploads" in api.json()["detail"]
    assert 0 < int(api["Retry-After"]) <= 60
    assert page.status_code == 429
    assert "Too many uploads in a short time" in page.content.decode()
    assert 0 < int(page["Retry-After"]) <= 60
    # Nothing of the refused requests was kept, and another user has a bucket of their own.
    assert OcrTask.objects.filter(owner=user).count() == 3
    assert stored_files() == stored
    bob = client_for(make_user(username="bob"))
    assert bob.post(API_TASKS, {"file": [png_upload()]}).status_code == 201


def test_a_throttled_upload_is_not_audited_and_reads_nothing(
    three_a_minute, user, client_for, png_upload
):
    alice = client_for(user)
    for _ in range(3):
        alice.post(API_TASKS, {"file": [png_upload()]})
    uploads_before = AuditEvent.objects.filter(event_type="file_upload").count()

    response = alice.post(API_TASKS, {"file": [png_upload()]})

    assert response.status_code == 429
    assert AuditEvent.objects.filter(event_type="file_upload").count() == uploads_before


def test_uploads_carry_rate_limit_headers_that_count_down(
    three_a_minute, user, client_for, png_upload
):
    alice = client_for(user)
    answers = [alice.post(API_TASKS, {"file": [png_upload()]}) for _ in range(4)]

    assert [answer.status_code for answer in answers] == [201, 201, 201, 429]
    assert {answer["RateLimit-Policy"] for answer in answers} == {'"upload";q=3;w=60'}
    remaining = [answer["RateLimit"].split(";")[1] for answer in answers]
    assert remaining == ["r=2", "r=1", "r=0", "r=0"]
    # On the refusal, t (when one more upload fits) is the Retry-After.
    assert answers[-1]["RateLimit"].endswith(f";t={answers[-1]['Retry-After']}")

"""ModelAdmins whose pages are audited staff actions (listing users, reading the log)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponseBase

from ..services import record_event


def shown_successfully(request: HttpRequest, response: HttpResponseBase) -> bool:
    """Return whether the response showed the page: a GET answered 200 (not a redirect, 403)."""
    return request.method == "GET" and getattr(response, "status_code", 200) == 200


class AuditedChangelistAdmin(admin.ModelAdmin):
    """Record each successful GET of the changelist, with the filters it was shown with.

    Subclasses name the event (``changelist_event``) and what was listed
    (``changelist_resource_type``). Put it before the ModelAdmin it extends.
    """

    changelist_event: str
    changelist_resource_type: str

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if shown_successfully(request, response):
            record_event(
                event_type=self.changelist_event,
                user=request.user,
                resource_type=self.changelist_resource_type,
                metadata={"surface": "admin", "filters": dict(request.GET.items())},
            )
        return response


class AuditedObjectAdmin(admin.ModelAdmin):
    """Record each successful GET of one object's pages (its change page and its history).

    The change page of a read-only admin shows every field; the history page names
    the object. Subclasses name the event (``object_event``) and what was read
    (``object_resource_type``); the resource id is the object's primary key, as
    found, not the text of the URL. Put it before the ModelAdmin it extends.
    """

    object_event: str
    object_resource_type: str

    def object_metadata(self, obj: Any) -> dict[str, Any]:
        """Return what else the event says about the object read (none by default)."""
        return {}

    def record_object_read(self, request, response, *, page: str, context_key: str) -> None:
        if not shown_successfully(request, response):
            return
        # Both views answer with a TemplateResponse naming the object they found; a
        # missing object is a redirect to the admin index, and nothing was read.
        obj = getattr(response, "context_data", {}).get(context_key)
        if obj is None:
            return
        record_event(
            event_type=self.object_event,
            user=request.user,
            resource_type=self.object_resource_type,
            resource_id=obj.pk,
            metadata={"surface": "admin", "page": page, **self.object_metadata(obj)},
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        self.record_object_read(request, response, page="change", context_key="original")
        return response

    def history_view(self, request, object_id, extra_context=None):
        response = super().history_view(request, object_id, extra_context)
        self.record_object_read(request, response, page="history", context_key="object")
        return response

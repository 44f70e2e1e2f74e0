"""A ModelAdmin whose changelist is an audited staff action (listing users, reading the log)."""

from django.contrib import admin

from .services import record_event


class AuditedChangelistAdmin(admin.ModelAdmin):
    """Record each successful GET of the changelist, with the filters it was shown with.

    Subclasses name the event (``changelist_event``) and what was listed
    (``changelist_resource_type``). Put it before the ModelAdmin it extends.
    """

    changelist_event: str
    changelist_resource_type: str

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if request.method == "GET" and getattr(response, "status_code", 200) == 200:
            record_event(
                event_type=self.changelist_event,
                user=request.user,
                resource_type=self.changelist_resource_type,
                metadata={"surface": "admin", "filters": dict(request.GET.items())},
            )
        return response

"""Django admin for OCR tasks: staff see every task; results are read-only."""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .cleanup import CLEANUP_PERMISSION, cleanup_cutoff, cleanup_tasks, orphan_files
from .models import OcrPage, OcrTask
from .selectors import cleanup_plan
from .services.deletion import task_delete, task_delete_many

NAME_CHARS = 40


class OcrPageInline(admin.TabularInline):
    model = OcrPage
    fields = ("index", "source", "confidence", "seconds", "text")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class CleanupForm(forms.Form):
    older_than_days = forms.IntegerField(
        min_value=0,
        max_value=36500,
        initial=settings.OCR_CLEANUP_DAYS,
        label=gettext_lazy("Older than (days)"),
        help_text=gettext_lazy(
            "Delete tasks created more than this many days ago, with their files."
        ),
    )
    dry_run = forms.BooleanField(
        required=False,
        initial=True,
        label=gettext_lazy("Dry run"),
        help_text=gettext_lazy("Only count what would be deleted."),
    )
    # Set by the confirmation page: "yes" and the moment its listing was made.
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)
    as_of = forms.DateTimeField(required=False, widget=forms.HiddenInput)


@admin.register(OcrTask)
class OcrTaskAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "owner",
        "status",
        "pages_done",
        "page_count",
        "engine",
        "language",
        "created_at",
    )
    list_filter = ("status", "engine", "created_at")
    list_select_related = ("owner",)
    search_fields = ("=id", "original_name", "=sha256", "owner__username")
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = [OcrPageInline]
    readonly_fields = [field.name for field in OcrTask._meta.fields]
    change_list_template = "admin/tasks/ocrtask/change_list.html"

    # Cut short with the whole name in a tooltip: a 125-character name must not push the
    # other columns off a 1280 px screen.
    @admin.display(description=gettext_lazy("file name"), ordering="original_name")
    def name(self, task: OcrTask) -> str:
        return format_html(
            '<span title="{}">{}</span>',
            task.original_name,
            Truncator(task.original_name).chars(NAME_CHARS),
        )

    def has_add_permission(self, request) -> bool:
        # Tasks come from uploads, which validate and audit the file.
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def delete_model(self, request, obj) -> None:
        task_delete(task=obj, actor=request.user, via="admin")

    def delete_queryset(self, request, queryset) -> None:
        # The "Delete selected" action: one task_delete event per task, like the pages.
        task_delete_many(tasks=queryset.select_related("owner"), actor=request.user, via="admin")

    def get_urls(self):
        urls = super().get_urls()
        custom = [
            path(
                "cleanup/",
                self.admin_site.admin_view(self.cleanup_view),
                name="tasks_ocrtask_cleanup",
            )
        ]
        return custom + urls

    def cleanup_view(self, request):
        """Clean up old tasks: a form, a confirmation listing what will go, the statistics.

        A real run (dry run unticked) first shows Django admin's "Are you sure?" page;
        only its "Yes" deletes, and only tasks created before the moment it listed.
        """
        if not request.user.has_perm(CLEANUP_PERMISSION):
            # The same permission the cleanup API asks for; a 403 is recorded as access_denied.
            raise PermissionDenied
        stats = None
        form = CleanupForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            if not data["dry_run"] and not data["confirmed"]:
                return self.cleanup_confirmation(request, older_than_days=data["older_than_days"])
            stats = cleanup_tasks(
                older_than_days=data["older_than_days"],
                dry_run=data["dry_run"],
                actor=request.user,
                via="admin",
                as_of=data["as_of"],
            )
            # Back with "Dry run" ticked: the next click never deletes by accident.
            form = CleanupForm(initial={"older_than_days": data["older_than_days"]})
        context = {
            **self.cleanup_context(request),
            "title": _("Clean up old tasks"),
            "form": form,
            "stats": stats,
        }
        return TemplateResponse(request, "admin/tasks/ocrtask/cleanup.html", context)

    def cleanup_confirmation(self, request, *, older_than_days: int) -> TemplateResponse:
        """Return the "Are you sure?" page: whose tasks and files a real run deletes."""
        as_of = timezone.now()
        created_before = cleanup_cutoff(older_than_days=older_than_days, as_of=as_of)
        plan = cleanup_plan(created_before=created_before)
        context = {
            **self.cleanup_context(request),
            "title": _("Are you sure?"),
            "plan": plan,
            "total_tasks": sum(row["tasks"] for row in plan),
            "total_files": sum(row["files"] for row in plan),
            "orphans": len(orphan_files(grace_seconds=settings.OCR_ORPHAN_GRACE_SECONDS)),
            "created_before": created_before,
            "older_than_days": older_than_days,
            "as_of": as_of.isoformat(),
        }
        return TemplateResponse(request, "admin/tasks/ocrtask/cleanup_confirm.html", context)

    def cleanup_context(self, request) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "changelist_url": reverse("admin:tasks_ocrtask_changelist"),
            "cleanup_url": reverse("admin:tasks_ocrtask_cleanup"),
        }

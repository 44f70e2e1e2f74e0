"""Django admin for OCR tasks: staff see every task; results are read-only."""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .cleanup import CLEANUP_PERMISSION, cleanup_tasks
from .models import OcrPage, OcrTask


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


@admin.register(OcrTask)
class OcrTaskAdmin(admin.ModelAdmin):
    list_display = (
        "original_name",
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

    def has_add_permission(self, request) -> bool:
        # Tasks come from uploads, which validate and audit the file.
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

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
        """Clean up old tasks: a form, then the statistics."""
        if not request.user.has_perm(CLEANUP_PERMISSION):
            # The same permission the cleanup API asks for; a 403 is recorded as access_denied.
            raise PermissionDenied
        stats = None
        form = CleanupForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            stats = cleanup_tasks(
                older_than_days=form.cleaned_data["older_than_days"],
                dry_run=form.cleaned_data["dry_run"],
                actor=request.user,
                request=request,
                via="admin",
            )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Clean up old tasks"),
            "form": form,
            "stats": stats,
            "opts": self.model._meta,
            "changelist_url": reverse("admin:tasks_ocrtask_changelist"),
        }
        return TemplateResponse(request, "admin/tasks/ocrtask/cleanup.html", context)

"""audit-api-counted-pages: the audit API with page numbers and COUNT(*), as paperless-ngx pages.

Never routed by the service; bench/urls.py mounts it for the bench process alone.
"""

from rest_framework.pagination import PageNumberPagination

from audit.api.views import AuditLogListApi


class CountingPagination(PageNumberPagination):
    """Page-number pagination: COUNT(*) of the filtered set, then OFFSET/LIMIT."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class PagedAuditLogListApi(AuditLogListApi):
    """The same view, filters and serializer; only the paginator differs."""

    pagination_class = CountingPagination  # type: ignore[assignment]  # the one difference

    def paginate_queryset(self, queryset):
        # Skip the cursor-ordering tweak of the parent: page numbers keep -sequence.
        return self.paginator.paginate_queryset(queryset, self.request, view=self)

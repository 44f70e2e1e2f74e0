"""Server-rendered OCR task pages."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def task_list(request: HttpRequest) -> HttpResponse:
    """Show the user's OCR tasks."""
    return render(request, "tasks/list.html", {"tasks": []})

"""Build the stored searchable PDF of completed tasks that have none (read before it was kept)."""

from django.core.management.base import BaseCommand

from tasks.services.searchable_pdfs import build_missing_searchable_pdfs


class Command(BaseCommand):
    help = "Build and store the searchable PDF of every completed task that lacks one."

    def handle(self, *args, **options):
        built, failed = build_missing_searchable_pdfs()
        self.stdout.write(f"Built {built} searchable PDF(s); {failed} could not be built.")

"""Write paths for OCR tasks (STYLE.md: services for writes), one module per concern.

    creation         uploads checked whole, stored and queued; every refusal on record
    retry            a failed task retried, a finished one read again
    deletion         tasks deleted, all or none, each on record
    downloads        a result or original handed out, on record
    reclaim          tasks and job rows a dead worker left behind, taken back
    searchable_pdfs  searchable PDFs built for completed tasks that lack one
    engine_choice    the engine and language a task is read with
    queue            handing a task to the worker, readying one to be queued again

Views, API views, the admin, commands and jobs import the module they need; this
package re-exports nothing for them.
"""

# The one name re-exported, because a stored dotted path names it: the django-tasks-db
# job rows a reclaim ends say exception_class_path "tasks.services.WorkerLost" (in the
# database, rows written before this was a package included), and django.tasks imports
# that path when such a row's result is read.
from .reclaim import WorkerLost

__all__ = ["WorkerLost"]

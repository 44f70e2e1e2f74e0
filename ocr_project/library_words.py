"""Words the admin shows from Django and django-axes that their own catalogues leave English.

Never imported: these calls are here for `makemessages`, so the msgids stay in
locale/zh_Hans/LC_MESSAGES/django.po (LOCALE_PATHS is searched before the libraries'
catalogues) instead of being dropped as obsolete on the next run. Each msgid is the
library's own, character for character; a changed one in a new release shows English
again, not a wrong word.
"""

from django.utils.translation import gettext_noop

LIBRARY_WORDS = [
    # Django 6: the empty choice of every select with choices (the admin's action list).
    gettext_noop("- Select an option -"),
    # Django 6: the admin's date drill-down (admin/date_hierarchy.html).
    gettext_noop("Filter by %(field_name)s"),
    # django-axes: its models, columns and filters (the "Sign-in lockouts" admin pages).
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
    gettext_noop("User Agent"),
    gettext_noop("IP Address"),
    gettext_noop("HTTP Accept"),
    gettext_noop("Path"),
    gettext_noop("Attempt Time"),
    gettext_noop("Access lock out"),
    gettext_noop("GET Data"),
    gettext_noop("POST Data"),
    gettext_noop("Failed Logins"),
    gettext_noop("Expires At"),
    gettext_noop("Logout Time"),
    gettext_noop("Locked Out"),
    gettext_noop("Form Data"),
    gettext_noop("Meta Data"),
    gettext_noop("Clean up expired attempts"),
    gettext_noop("Not set"),
    gettext_noop("Attempt Remaining"),
]

"""One timestamp format for every language: seconds, and the zone stated.

Pages, the admin and the dashboard all show "2026-11-27 14:47:05 UTC"; Django's own
defaults ("Nov. 27, 2026, 2:50 p.m.") drop the seconds and the zone.
"""

DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = DATE_FORMAT
TIME_FORMAT = "H:i:s"

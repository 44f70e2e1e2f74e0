"""audit.outage: how long a process waits for a lost database, and what it logs."""

import logging

import pytest
from django.db import OperationalError

from audit.outage import LONGEST_WAIT_SECONDS, backoff, summary, wait_for_database


def test_the_wait_doubles_from_half_a_second_up_to_ten():
    waits = [backoff(0.0)]
    for _ in range(6):
        waits.append(backoff(waits[-1]))

    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert max(waits) == LONGEST_WAIT_SECONDS


def test_the_log_gets_the_first_line_of_the_error():
    error = OperationalError("server closed the connection unexpectedly\n\tThis probably means")

    assert summary(error) == "OperationalError: server closed the connection unexpectedly"


@pytest.mark.django_db
def test_a_database_that_answers_ends_the_wait_with_two_lines(caplog):
    slept: list[float] = []
    logger = logging.getLogger("outage-test")

    with caplog.at_level(logging.WARNING, logger="outage-test"):
        back = wait_for_database(
            OperationalError("terminating connection"),
            what="Worker",
            logger=logger,
            sleep=slept.append,
        )

    assert back is True
    assert slept == [0.5]
    lost, back_again = (record.getMessage() for record in caplog.records)
    assert lost.startswith("Worker lost the database (OperationalError: terminating connection)")
    assert back_again.startswith("Worker reached the database again after ")


def test_a_stop_ends_the_wait_before_the_database_is_asked():
    slept: list[float] = []

    back = wait_for_database(
        OperationalError("gone"),
        what="Audit sealer",
        logger=logging.getLogger("outage-test"),
        stop=lambda: True,
        sleep=slept.append,
    )

    assert back is False
    assert slept == []

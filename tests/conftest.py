"""Fixtures of the suites that cross apps; those every app shares are in the root conftest.py."""

import pytest


@pytest.fixture(autouse=True)
def own_storage(media_root):
    """Give each test its own empty storage so files can be counted exactly."""
    return media_root


# Each phase's report, kept on the test item so fixtures can tell a failed test in teardown
# (the browser tests save a screenshot of every open page then).
phase_reports = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    item.stash.setdefault(phase_reports, {})[report.when] = report
    return report

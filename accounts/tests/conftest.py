from audit.tests.fixtures import *  # noqa: F403

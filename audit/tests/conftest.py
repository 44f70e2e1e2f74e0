from audit.tests.fixtures import *  # noqa: F403

# Files through the Storage API, for the suites that upload (atomicity, headers, hostile).
from tasks.tests.stored import *  # noqa: F403

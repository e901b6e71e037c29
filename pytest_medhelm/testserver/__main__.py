"""``python -m pytest_medhelm.testserver``: see :mod:`pytest_medhelm.testserver.cli`."""

import sys

from pytest_medhelm.testserver.cli import main

sys.exit(main())

"""``python -m SMTPMockLibrary``: the same as the ``smtpmock`` command."""

import sys

from .cli import main

sys.exit(main())

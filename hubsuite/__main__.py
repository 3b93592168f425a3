"""``python -m hubsuite`` is `make test-hub`."""

import sys

from hubsuite.run import main

sys.exit(main())

"""What several test modules share, one module per topic.

Test modules import from here (or use the fixtures of a ``conftest.py``), never from each
other: a test module is free to change without breaking another one, and
tests/test_layout.py checks it. A test that waits for something uses ``wait.wait_for`` (a
condition and a deadline) rather than a fixed sleep; a sleep that stays is the behaviour under
test (a slow client) and says so.
"""

import pkgutil

import pytest

# The helpers assert too: rewritten like the tests, so that a failure there shows the values.
# Named one by one: this package itself is being imported already (pytest would warn).
pytest.register_assert_rewrite(*(f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__)))

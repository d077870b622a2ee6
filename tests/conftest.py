"""Suite-wide: no test writes to the real scan history.

Every ``exposcan scan`` records its run in the user's data directory
(``$XDG_DATA_HOME/exposcan``). The whole session, in-process and through
the CLI in lab namespaces alike (they inherit this environment), gets a
throw-away one instead of root's ``~/.local/share``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# Fixtures more than one ring uses: the browser of the HTML report tests.
pytest_plugins = ["tests.support.browser"]


@pytest.fixture(scope="session", autouse=True)
def private_data_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))
        yield

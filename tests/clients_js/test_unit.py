"""The package's own unit tests (`npm test`: node --test with fakes for fetch,
BroadcastChannel, Web Locks, storage and timers), run as part of `make test`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import SIZES, run


@pytest.mark.timeout(600)  # a build and the node tests: generous on a busy machine
def test_npm_test_passes(js_package: Path, request: pytest.FixtureRequest) -> None:
    """`npm test` builds the package and every unit test passes, the size budgets included."""
    output = run(["npm", "test"], js_package).stdout
    assert re.search(r"^. fail 0$", output, re.MULTILINE), output
    passed = re.search(r"^. pass (\d+)$", output, re.MULTILINE)
    assert passed is not None and int(passed.group(1)) >= 20, output
    sizes = re.findall(r"size (\w+: [\d.]+ KiB min\+gzip \(budget [\d.]+ KiB\))", output)
    assert len(sizes) == 3, output
    request.config.stash[SIZES] = sizes
    print("\n".join(sizes))

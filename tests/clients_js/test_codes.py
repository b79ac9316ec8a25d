"""The error codes of CONTRACT.md section 4 are one list: Python's error tree, generated into
the TypeScript package (`make js-codes`) and the served typings (`make js`)."""

from __future__ import annotations

import re
import sys

from scripts import js_codes

from tokensmith.errors import TokensmithError

from .conftest import PACKAGE, STATIC


def test_the_package_codes_are_generated_from_the_error_tree() -> None:
    """clients/js/src/codes.ts is what `make js-codes` writes now: a new error class without
    regenerating fails here."""
    committed = (PACKAGE / "src" / "codes.ts").read_text()
    assert committed == js_codes.render(), "clients/js/src/codes.ts is stale: run `make js-codes`"


def test_the_served_typings_carry_the_same_codes() -> None:
    """/static/tokensmith.d.ts names exactly the generated codes (`make js` copies it)."""
    text = (STATIC / "tokensmith.d.ts").read_text()
    union = re.search(r"export type ServerErrorCode =([^;]+);", text)
    assert union is not None
    assert sorted(re.findall(r'"([A-Z_]+)"', union.group(1))) == js_codes.server_codes()


def test_a_new_error_class_changes_the_generated_list() -> None:
    """The generator reads the live tree: a class with a code of its own joins the list."""

    class Teapot(TokensmithError):
        code = "I_AM_A_TEAPOT"

    Teapot.__module__ = "tokensmith.errors"
    try:
        assert "I_AM_A_TEAPOT" in js_codes.server_codes()
        assert js_codes.render() != (PACKAGE / "src" / "codes.ts").read_text()
    finally:
        Teapot.__module__ = __name__
    assert "I_AM_A_TEAPOT" not in js_codes.server_codes()


def test_check_mode_passes_on_the_committed_file() -> None:
    """`python scripts/js_codes.py --check` exits 0 when the file is current."""
    assert js_codes.main([sys.argv[0], "--check"]) == 0

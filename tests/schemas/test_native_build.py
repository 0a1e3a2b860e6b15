"""Not skipped with the native tests: it is the one that must fail when the build was skipped."""

import shutil

from schemas.columnar import NATIVE


def test_the_native_decoder_is_built_where_rust_is_available():
    # `pip install` builds it when cargo is on PATH (optional = true hides a failed build).
    assert NATIVE or shutil.which("cargo") is None, "cargo is on PATH but schemas._columnar was not built"

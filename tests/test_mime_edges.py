"""Quoted-printable at its edges: whitespace escaped at a line's end must not push a line past 76."""

from __future__ import annotations

import quopri

import pytest

from digest.message.mime import qp_piece


@pytest.mark.parametrize("n", [70, 73, 74, 75, 76, 77, 150, 600])
@pytest.mark.parametrize("end", ["\t\n", " \n", "\t", " "])
def test_trailing_whitespace_is_escaped_within_76_characters(n, end):
    text = "x" * n + end + "0"
    encoded = qp_piece(text)
    assert all(len(line) <= 76 for line in encoded.split(b"\r\n"))
    assert encoded.endswith(b"=\r\n")
    assert quopri.decodestring(encoded.replace(b"\r\n", b"\n")).decode("utf-8") == text

"""`check_claims` fails a generator when a page's sentence about its numbers stops being true."""

from __future__ import annotations

import pytest

from vlmbook.book import check_claims

WHERE = "the table paragraph of docs/page.*.md"


def test_true_claims_pass():
    assert check_claims(WHERE, {"a is below b": 1 < 2, "b is positive": 2 > 0}, "a 1, b 2") is None


def test_false_claim_names_paragraph_claim_and_values():
    with pytest.raises(RuntimeError) as raised:
        check_claims(WHERE, {"a is below b": 1 < 2, "b is below a": 2 < 1}, "a 1, b 2")
    message = str(raised.value)
    assert message.startswith(f"{WHERE} states that b is below a")
    assert "which is no longer true (a 1, b 2)" in message
    assert message.endswith("update the text")


def test_first_false_claim_is_reported():
    with pytest.raises(RuntimeError, match="states that first is false,"):
        check_claims(WHERE, {"first is false": False, "second is false": False}, "no values")

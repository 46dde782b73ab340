"""A description with nothing nh3 could change is stored without being parsed: the shortcut must keep exactly
what parsing would keep."""

from __future__ import annotations

import nh3
from hypothesis import given, settings
from hypothesis import strategies as st

from depot.repository.services import richtext
from depot.repository.services.richtext import sanitize, sanitize_stored


def parsed(html: str) -> str:
    """What ``sanitize_stored`` keeps when it always parses."""
    clean = sanitize(html)
    return html if clean == html or richtext.unescape(clean) == richtext.unescape(html) else clean


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_the_shortcut_keeps_what_parsing_keeps(html: str) -> None:
    assert sanitize_stored(html) == parsed(html)


def test_what_parsing_changes_still_goes_through_it() -> None:
    for html, stored in [("a<script>x</script>b", "ab"), ("a\r\nb", "a\nb"), ("\ufeffsheet", "sheet"),
                         ("x &amp; y", "x &amp; y"), ("a > b", "a > b"), ("Fucus L.", "Fucus L.")]:
        assert sanitize_stored(html) == stored == parsed(html), html
    assert nh3.clean("\ufeffsheet") == "sheet"  # why a byte-order mark is not plain

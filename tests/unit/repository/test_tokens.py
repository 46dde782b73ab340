"""Tokens minted by the repository: letters and digits only, so no tool takes one for an option."""

from __future__ import annotations

import argparse

from depot.repository.services.accounts import TOKEN_ALPHABET, new_token


def test_tokens_are_60_letters_and_digits_and_all_differ() -> None:
    tokens = [new_token() for _ in range(2000)]
    assert len(set(tokens)) == len(tokens)
    assert all(len(t) == 60 and set(t) <= set(TOKEN_ALPHABET) for t in tokens)
    # URL-safe base64 began with "-" about once in 64: argparse then read `--token -abc...` as an option
    # (the yardstick's client exited 2 in a CI run). Every token minted now passes as a plain value.
    parser = argparse.ArgumentParser(exit_on_error=False)
    parser.add_argument("--token")
    assert all(parser.parse_args(["--token", t]).token == t for t in tokens[:200])

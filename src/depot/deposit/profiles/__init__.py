"""Mapping profiles: TOML files that turn a specimen's Darwin Core terms into Zenodo deposit metadata.

    profile = load_profile("meise-belgium-herbarium", {"community": "my-test-community"})
    record = profile.apply(specimen)   # a PlannedRecord; template failures land in record.problems

Shipped profiles live in ``profiles/data/*.toml``; ``docs/profiles.md`` describes how to write one.
"""

from __future__ import annotations

from depot.deposit.profiles.errors import ProfileError
from depot.deposit.profiles.loader import list_profiles, load_profile
from depot.deposit.profiles.profile import Profile
from depot.deposit.profiles.vocabulary import ZENODO_CUSTOM_TERMS, zenodo_license_id

__all__ = ["ZENODO_CUSTOM_TERMS", "Profile", "ProfileError", "list_profiles", "load_profile", "zenodo_license_id"]

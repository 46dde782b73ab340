"""Image files checked by decoding them, not by their first bytes: size, format against name, damage,
pixel count, and the barcodes on a herbarium sheet against the specimen's key.

    rules = profile.images                      # an ImageRules, from the profile's [images] table
    result = check_file(path, name, key, rules) # one file, in this process: a FileCheck
    with FileChecker(rules, processes=2, cache=FileCheckCache(ledger.engine)) as checker:
        for result in checker.check((key, path, name) for ...):   # in input order, streaming
            result.problems, result.warnings, result.width, result.barcodes ...

pyvips and zxing-cpp are imported when a file is first decoded, so importing this package is cheap.
"""

from __future__ import annotations

from depot.deposit.images.cache import FileCheckCache, rules_hash
from depot.deposit.images.decode import check_file
from depot.deposit.images.matching import barcode_matches
from depot.deposit.images.pool import FileChecker
from depot.deposit.images.results import FileCheck
from depot.deposit.images.rules import BarcodeMode, ImageRules, RulesError, parse_barcode_mode, rules_from_table

__all__ = ["BarcodeMode", "FileCheck", "FileCheckCache", "FileChecker", "ImageRules", "RulesError",
           "barcode_matches", "check_file", "parse_barcode_mode", "rules_from_table", "rules_hash"]

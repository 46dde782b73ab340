"""The one error loading a mapping profile raises. Applying a profile never raises: a template that fails
for one specimen becomes a problem on that specimen's PlannedRecord."""

from __future__ import annotations

from depot.deposit.errors import DepotError


class ProfileError(DepotError):
    """Raised when a profile cannot be loaded: no such profile, a TOML syntax error, an unknown section,
    key or variable, a template that does not compile, or a name that is neither a Darwin Core term nor
    a template variable (usually a typo).

    ``path`` is the profile file (or ``package:<name>`` for a shipped one), ``key`` the dotted location
    inside it (``metadata.related_identifiers[0].identifier``) and ``line`` the line number when known.
    """

    def __init__(self, path: str, reason: str, *, key: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.reason = reason
        self.key = key
        self.line = line
        where = path + (f":{line}" if line else "") + (f" [{key}]" if key else "")
        super().__init__(f"{where}: {reason}")

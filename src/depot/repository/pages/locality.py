"""The collecting locality of a record, from its Darwin Core coordinates (pure)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Locality:
    lat: float
    lon: float
    label: str  # e.g. "69.6496° N, 18.9560° E"

    @property
    def osm_url(self) -> str:
        return f"https://www.openstreetmap.org/?mlat={self.lat:.5f}&mlon={self.lon:.5f}#map=10/{self.lat:.5f}/{self.lon:.5f}"


def _first_number(value: Any) -> float | None:
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def locality(meta: dict[str, Any]) -> Locality | None:
    """The point of ``dwc:decimalLatitude``/``dwc:decimalLongitude`` (else the first ``locations`` entry with
    lat/lon), or None when there is none or it is off the globe."""
    raw = meta.get("custom")
    custom: dict[str, Any] = raw if isinstance(raw, dict) else {}
    lat, lon = _first_number(custom.get("dwc:decimalLatitude")), _first_number(custom.get("dwc:decimalLongitude"))
    if lat is None or lon is None:
        for loc in meta.get("locations") or []:
            if isinstance(loc, dict) and loc.get("lat") is not None and loc.get("lon") is not None:
                lat, lon = _first_number(loc["lat"]), _first_number(loc["lon"])
                break
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    label = f"{abs(lat):.4f}° {'N' if lat >= 0 else 'S'}, {abs(lon):.4f}° {'E' if lon >= 0 else 'W'}"
    return Locality(lat, lon, label)

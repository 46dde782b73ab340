"""depot.deposit.changes: what a sync does to one published specimen."""

from __future__ import annotations

import pytest

from depot.deposit.changes import Change, PublishedFile, WantedFile, compare

SHEET = PublishedFile("sheet.jpg", 1000, 111, "aaa")


def hashed(values: dict[str, str]) -> tuple[list[str], object]:
    calls: list[str] = []

    def md5_of(path: str) -> str:
        calls.append(path)
        return values[path]

    return calls, md5_of


def plan(wanted: list[WantedFile], *, meta: str = "m1", md5: dict[str, str] | None = None,
         published: list[PublishedFile] | None = None) -> tuple[Change, list[str]]:
    calls, md5_of = hashed(md5 or {})
    change = compare(published_metadata_hash="m1", published_files=[SHEET] if published is None else published,
                     metadata_hash=meta, wanted=wanted, md5_of=md5_of)  # type: ignore[arg-type]
    return change, calls


def test_same_stat_is_unchanged_without_hashing() -> None:
    change, calls = plan([WantedFile("sheet.jpg", "/a/sheet.jpg", 1000, 111)])
    assert change.kind == "unchanged" and change.requests == 0 and calls == []


def test_metadata_only_is_an_edit_of_three_requests() -> None:
    change, _ = plan([WantedFile("sheet.jpg", "/a/sheet.jpg", 1000, 111)], meta="m2")
    assert change.kind == "edit" and change.requests == 3 and change.same == {"sheet.jpg"}


def test_a_touched_file_with_the_same_content_is_not_a_new_version() -> None:
    change, calls = plan([WantedFile("sheet.jpg", "/b/sheet.jpg", 1000, 999)], md5={"/b/sheet.jpg": "aaa"})
    assert change.kind == "unchanged" and calls == ["/b/sheet.jpg"]


def test_a_rescan_replaces_the_file_in_a_new_version() -> None:
    change, _ = plan([WantedFile("sheet.jpg", "/a/sheet.jpg", 1000, 999)], md5={"/a/sheet.jpg": "bbb"})
    assert change.kind == "version" and change.upload == ("sheet.jpg",) and change.delete == ("sheet.jpg",)
    assert change.requests == 5  # newversion, DELETE, PUT file, PUT metadata, publish


def test_a_different_size_is_changed_without_hashing() -> None:
    change, calls = plan([WantedFile("sheet.jpg", "/a/sheet.jpg", 2000, 111)])
    assert change.kind == "version" and calls == []


@pytest.mark.parametrize("wanted, upload, delete", [
    # A lossless master added next to the JPEG: upload it, keep the JPEG.
    ([WantedFile("sheet.jpg", "/a/sheet.jpg", 1000, 111), WantedFile("sheet.tif", "/a/sheet.tif", 9000, 5)],
     ("sheet.tif",), ()),
    # The JPEG withdrawn for the master: delete it.
    ([WantedFile("sheet.tif", "/a/sheet.tif", 9000, 5)], ("sheet.tif",), ("sheet.jpg",)),
])
def test_added_and_removed_files(wanted: list[WantedFile], upload: tuple[str, ...], delete: tuple[str, ...]) -> None:
    change, _ = plan(wanted)
    assert (change.kind, change.upload, change.delete) == ("version", upload, delete)
    assert change.requests == 1 + len(upload) + len(delete) + 2


def test_a_sidecar_with_known_md5_is_compared_without_reading() -> None:
    side = PublishedFile("dwc.json", 10, None, "ccc")
    change, calls = plan([WantedFile("sheet.jpg", "/a/sheet.jpg", 1000, 111), WantedFile("dwc.json", "", 10, None,
                                                                                          md5="ccc")],
                         published=[SHEET, side])
    assert change.kind == "unchanged" and calls == []

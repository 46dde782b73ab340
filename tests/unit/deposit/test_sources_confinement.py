"""No file from outside --images (or the archive) is ever taken: each way a source could name one."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from depot.deposit.sources import SourceError, open_source

META = ('<archive xmlns="http://rs.tdwg.org/dwc/text/"><core encoding="UTF-8" fieldsTerminatedBy="\\t" '
        'linesTerminatedBy="\\n" ignoreHeaderLines="1" rowType="http://rs.tdwg.org/dwc/terms/Occurrence">'
        "<files><location>{core}</location></files><id index=\"0\"/>"
        '<field index="1" term="http://rs.tdwg.org/dwc/terms/catalogNumber"/>'
        '<field index="2" term="http://rs.tdwg.org/dwc/terms/associatedMedia"/></core>{extension}</archive>')
MEDIA_EXTENSION = ('<extension encoding="UTF-8" fieldsTerminatedBy="\\t" linesTerminatedBy="\\n" ignoreHeaderLines="1" '
                   'rowType="http://rs.gbif.org/terms/1.0/Multimedia"><files><location>{location}</location></files>'
                   '<coreid index="0"/><field index="1" term="http://purl.org/dc/terms/identifier"/></extension>')


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """An image folder with one real image, and a secret file beside it that must never be taken."""
    images = tmp_path / "images"
    images.mkdir()
    (images / "B1.jpg").write_bytes(b"\xff\xd8\xff real")
    (tmp_path / "secret.jpg").write_bytes(b"\xff\xd8\xff secret")
    return tmp_path, images


def _table(folder: Path, media: list[str]) -> Path:
    rows = "".join(f"B{n},{value}\n" for n, value in enumerate(media, start=1))
    table = folder / "t.csv"
    table.write_text("catalogNumber,associatedMedia\n" + rows, encoding="utf-8")
    return table


@pytest.mark.parametrize("value", ["../secret.jpg", "sub/../../secret.jpg", "{root}/secret.jpg",
                                   "file://{root}/secret.jpg", "FILE:{root}/secret.jpg"])
def test_media_values_outside_the_image_folder_are_problems(layout: tuple[Path, Path], value: str) -> None:
    root, images = layout
    value = value.format(root=root)
    with open_source(_table(root, [value]), images=images) as source:
        (only,) = list(source)
    assert only.files == ()
    assert only.problems == (f"row 1: image {value} is outside --images {images}; only files inside it are deposited",)


def test_without_an_image_folder_the_tables_folder_is_the_limit(tmp_path: Path) -> None:
    (tmp_path / "secret.jpg").write_bytes(b"x")
    data = tmp_path / "data"
    data.mkdir()
    (data / "ok.jpg").write_bytes(b"x")
    with open_source(_table(data, ["ok.jpg", "../secret.jpg"])) as source:
        ok, bad = list(source)
    assert [f.name for f in ok.files] == ["ok.jpg"] and ok.problems == ()
    assert bad.files == () and bad.problems[0].startswith(f"row 2: image ../secret.jpg is outside the folder of t.csv "
                                                          f"({data})")


def test_a_symbolic_link_out_of_the_image_folder_is_a_problem(layout: tuple[Path, Path]) -> None:
    root, images = layout
    (images / "B2.jpg").symlink_to(root / "secret.jpg")
    (images / "inner.jpg").symlink_to(images / "B1.jpg")  # a link that stays inside is fine
    table = _table(root, ["B2.jpg", "inner.jpg"])
    with open_source(table, images=images) as source:
        linked, inner = list(source)
    assert linked.files == ()
    assert linked.problems == (f"row 1: image B2.jpg is a symbolic link to {root / 'secret.jpg'}, outside --images "
                               f"{images}; only files inside it are deposited",)
    assert [f.name for f in inner.files] == ["inner.jpg"] and inner.problems == ()
    # found by path template, and by catalogNumber: the same rule
    with open_source(table, images=images, path_template="{images}/{catalogNumber}.jpg") as source:
        _, by_template = list(source)
    assert by_template.files == () and by_template.problems[0].startswith(
        f"row 2: image {images / 'B2.jpg'} is a symbolic link to {root / 'secret.jpg'}")
    with open_source(_table(root, ["", ""]), images=images) as source:
        _, by_name = list(source)
    assert by_name.files == () and by_name.problems[0].startswith("row 2: image B2.* is a symbolic link to")


def test_a_folder_linked_out_is_refused_for_every_file_in_it(layout: tuple[Path, Path]) -> None:
    """The resolver remembers each folder's real path (RealPaths): every file of a linked-out folder is
    refused, not only the first, and a file linked in a real folder is still followed."""
    root, images = layout
    outside = root / "outside"
    outside.mkdir()
    for name in ("x1.jpg", "x2.jpg"):
        (outside / name).write_bytes(b"\xff\xd8\xff secret")
    (images / "sub").symlink_to(outside)
    (images / "B3.jpg").symlink_to(root / "secret.jpg")
    with open_source(_table(root, ["B1.jpg", "sub/x1.jpg", "sub/x2.jpg", "B3.jpg"]), images=images) as source:
        kept, x1, x2, linked = list(source)
    assert [f.name for f in kept.files] == ["B1.jpg"]
    for row, value in ((x1, "sub/x1.jpg"), (x2, "sub/x2.jpg")):
        assert row.files == ()
        assert f"image {value} is a symbolic link to {outside / value.split('/')[1]}" in row.problems[0]
    assert linked.files == () and "is a symbolic link to" in linked.problems[0]


def test_an_absolute_path_template_keeps_to_its_own_folder(layout: tuple[Path, Path]) -> None:
    root, images = layout
    (images / "B1.jpg").unlink()
    (images / "B1.jpg").symlink_to(root / "secret.jpg")
    with open_source(_table(root, [""]), path_template=f"{images}/{{catalogNumber}}.jpg") as source:
        (only,) = list(source)
    assert only.files == ()
    assert only.problems == (f"row 1: image {images / 'B1.jpg'} is a symbolic link to {root / 'secret.jpg'}, outside "
                             f"the --path-template folder {images}; only files inside it are deposited",)


def _archive(folder: Path, *, core: str = "occurrence.txt", extension: str = "", rows: str = "1\tB1\t\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "meta.xml").write_text(META.format(core=core, extension=extension), encoding="utf-8")
    (folder / "occurrence.txt").write_text("id\tcatalogNumber\tassociatedMedia\n" + rows, encoding="utf-8")
    return folder


def _zip(archive: Path, folder: Path, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zipped.write(path, path.relative_to(folder).as_posix())
        for name, data in (extra or {}).items():
            zipped.writestr(name, data)
    return archive


def test_meta_xml_core_location_outside_the_archive_is_refused(tmp_path: Path) -> None:
    (tmp_path / "outside.txt").write_text("id\tcatalogNumber\tassociatedMedia\n1\tSTOLEN\t\n", encoding="utf-8")
    folder = _archive(tmp_path / "a", core="../outside.txt")
    with pytest.raises(SourceError, match=r"meta.xml names '../outside.txt' as a data file, which is outside the "
                                          r"archive"):
        open_source(folder)
    zipped = _zip(tmp_path / "a.zip", folder)
    with pytest.raises(SourceError, match=r"a.zip: meta.xml names '../outside.txt'"):
        open_source(zipped)
    absolute = _archive(tmp_path / "b", core=str(tmp_path / "outside.txt"))
    with pytest.raises(SourceError, match=r"meta.xml names '/.*outside.txt' as a data file"):
        open_source(absolute)


def test_meta_xml_extension_location_and_linked_core_outside_are_refused(tmp_path: Path) -> None:
    (tmp_path / "media.txt").write_text("id\tidentifier\n1\thttp://x/1.jpg\n", encoding="utf-8")
    folder = _archive(tmp_path / "a", extension=MEDIA_EXTENSION.format(location="../media.txt"))
    with pytest.raises(SourceError, match=r"meta.xml names '../media.txt' as a data file"):
        open_source(folder)
    linked = _archive(tmp_path / "b")
    (linked / "occurrence.txt").unlink()
    (linked / "occurrence.txt").symlink_to(tmp_path / "a" / "occurrence.txt")
    with pytest.raises(SourceError, match=r"meta.xml names 'occurrence.txt' as a data file, which is outside"):
        open_source(linked)


@pytest.mark.parametrize("entry", ["../evil.txt", "/tmp/evil.txt", "dwca/../../evil.txt"])
def test_zip_slip_entries_are_refused(tmp_path: Path, entry: str) -> None:
    archive = _zip(tmp_path / "slip.zip", _archive(tmp_path / "a"), {entry: b"owned"})
    with pytest.raises(SourceError, match=rf"slip.zip: the zip entry '{entry}' is an? "):
        open_source(archive)
    assert not (tmp_path / "evil.txt").exists()


def test_tar_links_and_climbing_entries_are_refused(tmp_path: Path) -> None:
    folder = _archive(tmp_path / "a")
    for name, kind in (("link.txt", tarfile.SYMTYPE), ("../up.txt", tarfile.REGTYPE)):
        archive = tmp_path / "bad.tgz"
        with tarfile.open(archive, "w:gz") as tarred:
            for path in sorted(folder.iterdir()):
                tarred.add(path, path.name)
            member = tarfile.TarInfo(name)
            member.type = kind
            member.linkname = "/etc/passwd" if kind == tarfile.SYMTYPE else ""
            tarred.addfile(member, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)
        with pytest.raises(SourceError, match=rf"bad.tgz: the tar entry '{name}' is "):
            open_source(archive)


def test_media_inside_a_zipped_archive_are_found_and_confined(tmp_path: Path) -> None:
    folder = _archive(tmp_path / "a", rows="1\tB1\tmedia/B1.jpg\n2\tB2\t../../secret.jpg\n")
    (folder / "media").mkdir()
    (folder / "media" / "B1.jpg").write_bytes(b"\xff\xd8\xff")
    with open_source(_zip(tmp_path / "a.zip", folder)) as source:
        first, second = list(source)
    assert [f.name for f in first.files] == ["B1.jpg"] and first.problems == ()
    assert second.files == ()
    assert second.problems == ("row 2: image ../../secret.jpg is outside the unpacked archive a.zip; only files inside "
                               "it are deposited",)


def test_a_folder_source_takes_no_link_that_leads_out(layout: tuple[Path, Path]) -> None:
    root, images = layout
    (images / "B2.jpg").symlink_to(root / "secret.jpg")
    with open_source(images) as source:
        b1, b2 = list(source)
    assert [f.name for f in b1.files] == ["B1.jpg"] and b1.problems == ()
    assert b2.files == () and b2.problems == (f"B2.jpg is a symbolic link to {root / 'secret.jpg'}, outside the folder "
                                              f"{images}; only files inside it are deposited",)


def test_an_archive_too_large_for_the_disk_is_refused_before_unpacking(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    archive = _zip(tmp_path / "big.zip", _archive(tmp_path / "a"))
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real(path)._replace(free=100))
    with pytest.raises(SourceError, match=r"big.zip: unpacking needs 0.0 GB but .* has 0.0 GB free; point TMPDIR"):
        open_source(archive)

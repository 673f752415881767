"""`wpwatch export --format wacz` and `wpwatch verify --package`.

The archive is the demo one of tests/test_evidence.py (real crawls of the bundled demo
site); the real-WordPress package is in tests/test_wacz_wordpress.py. Packages are
checked with py-wacz's own validator (`wacz validate`), and tampered with the way
someone holding the file would: a flipped byte, a re-zipped changed file, a file
removed or added, an edited datapackage.json, a bad timestamp token.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import WPWatch
from tests.test_evidence import DemoArchive
from tests.test_evidence_tsa import make_pki, tsa  # noqa: F401  (the authority fixture)
from tests.test_export import read_warc, tool

Edit = Callable[[str, bytes], bytes | None]


# -- helpers shared with the real-WordPress and browser tests ------------------------------------
def wacz_validate(package: Path) -> str:
    """py-wacz's own validator on a package; returns its output, asserts it passed."""
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from wacz.main import main; sys.exit(main())",
         "validate", "-f", str(package)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Validation succeeded, the passed WACZ is valid" in proc.stdout, proc.stdout
    return proc.stdout


def verify_package(ww: WPWatch, package: Path, *args: str) -> tuple[int, str]:
    proc = ww.run("verify", "--package", str(package), *args, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, proc.stdout


def members(package: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(package) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def rezip(src: Path, dst: Path, edit: Edit, add: dict[str, bytes] | None = None) -> None:
    """Copy a package, passing each member through edit (None drops it), as a tool would."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = edit(info.filename, zin.read(info))
            if data is not None:
                zout.writestr(info, data)
        for name, data in (add or {}).items():
            zout.writestr(name, data)


def flip_byte(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]


def pages_of(package: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    header, *pages = (json.loads(line) for line in
                      members(package)["pages/pages.jsonl"].decode().splitlines())
    return header, pages


def warc_member(package: Path, suffix: str) -> Path:
    """One WARC of the package, extracted next to it."""
    (name,) = [n for n in members(package) if n.startswith("archive/") and n.endswith(suffix)
               and (suffix != ".warc.gz" or not n.endswith("-posts.warc.gz"))]
    out = package.parent / f"extracted-{Path(name).name}"
    out.write_bytes(members(package)[name])
    return out


@pytest.fixture
def package(copy: WPWatch, tmp_path: Path) -> Path:
    out = tmp_path / "evidence.wacz"
    copy.run("export", "--out", str(out))
    return out


# -- a package that holds --------------------------------------------------------------------------
def test_package_passes_wacz_validate_and_verify(
    copy: WPWatch, demo_archive: DemoArchive, tmp_path: Path
) -> None:
    out = tmp_path / "evidence.wacz"
    proc = copy.run("export", "--site", demo_archive.site_url, "--format", "wacz", "--out",
                    str(out))
    assert re.fullmatch(r"packaged \d+ versions and \d+ changes \(\d+ responses, \d+ post "
                        r"records, \d+ pages\) of 1 site\(s\) into .*evidence\.wacz\n",
                        proc.stdout), proc.stdout
    assert "wpwatch.progress: indexing 2 WARC file(s)" in proc.stderr
    wacz_validate(out)
    code, text = verify_package(copy, out)
    assert code == 0, text
    assert text.startswith(f"verify: package {out} intact: 5 files match datapackage.json, "
                           "its digest matches, no timestamp token")

    files = members(out)
    slug = demo_archive.site_url.split("://")[1].replace(":", "-").replace("/", "-")
    assert sorted(files) == sorted([
        "indexes/index.cdx.gz", "indexes/index.idx", f"archive/{slug}.warc.gz",
        f"archive/{slug}-posts.warc.gz", "pages/pages.jsonl", "datapackage.json",
        "datapackage-digest.json",
    ])
    with zipfile.ZipFile(out) as zf:  # WARCs and the index stored, so replay can seek
        assert all(zf.getinfo(n).compress_type == zipfile.ZIP_STORED
                   for n in files if n.endswith(".gz"))
    datapackage = json.loads(files["datapackage.json"])
    assert datapackage["wacz_version"] == "1.1.1"
    assert {r["path"] for r in datapackage["resources"]} == set(files) - {
        "datapackage.json", "datapackage-digest.json"}


def test_pages_are_one_per_post_at_its_api_url(
    package: Path, demo_archive: DemoArchive
) -> None:
    header, pages = pages_of(package)
    assert header == {"format": "json-pages-1.0", "id": "pages", "title": "Posts"}
    urls = [p["url"] for p in pages]
    assert len(urls) == len(set(urls)) > 5
    api = f"{demo_archive.site_url}/wp-json/wp/v2/"
    assert all(re.fullmatch(re.escape(api) + r"(posts|pages)/\d+", u) for u in urls), urls
    assert all(p["title"] and re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", p["ts"]) for p in pages)
    hidden = [p for p in pages if p["title"] == "Hidden edit 2"]
    assert len(hidden) == 1  # the post's newest title, at its first capture


def test_post_records_are_cut_byte_for_byte_from_the_listing(package: Path) -> None:
    answers = {r["headers"]["WARC-Record-ID"]: r
               for r in read_warc(warc_member(package, ".warc.gz")) if r["type"] == "response"}
    posts_warc = warc_member(package, "-posts.warc.gz")
    cuts = read_warc(posts_warc)
    assert cuts and {r["type"] for r in cuts} == {"resource"}
    for cut in cuts:
        h = cut["headers"]
        listing = answers[h["WPWatch-Cut-From"]]
        assert listing["headers"]["WARC-Target-URI"] == h["WPWatch-Cut-From-Target-URI"]
        cut_range = re.fullmatch(r"bytes=(\d+)-(\d+)/(\d+)", h["WPWatch-Cut-Range"])
        assert cut_range, h["WPWatch-Cut-Range"]
        first, last, total = map(int, cut_range.groups())
        assert total == len(listing["payload"])
        assert cut["payload"] == listing["payload"][first:last + 1]
        assert h["WARC-Date"] == listing["headers"]["WARC-Date"]
        assert h["WARC-Target-URI"].endswith(f"/{json.loads(cut['payload'])['id']}")
        assert h["Content-Type"].startswith("application/json")
    check = tool("warcio.cli", "check", "-v", str(posts_warc))
    assert check.returncode == 0 and "fail" not in check.stdout, check.stdout


def test_since_limits_the_package(copy: WPWatch, package: Path, tmp_path: Path) -> None:
    later = tmp_path / "later.wacz"
    copy.run("export", "--since", "2999-01-01", "--out", str(later))
    wacz_validate(later)
    assert pages_of(later)[1] == [] and len(pages_of(package)[1]) > 0


# -- tampering ------------------------------------------------------------------------------------
def test_a_flipped_byte_of_a_warc_is_caught(copy: WPWatch, package: Path) -> None:
    with zipfile.ZipFile(package) as zf:
        (info,) = [i for i in zf.infolist() if i.filename.endswith("en.warc.gz")]
    raw = bytearray(package.read_bytes())
    # the member's data starts after its 30-byte local header, name and extra field
    name_len = int.from_bytes(raw[info.header_offset + 26:info.header_offset + 28], "little")
    extra_len = int.from_bytes(raw[info.header_offset + 28:info.header_offset + 30], "little")
    raw[info.header_offset + 30 + name_len + extra_len + info.compress_size // 2] ^= 0x01
    package.write_bytes(bytes(raw))
    code, text = verify_package(copy, package)
    assert code == 1
    assert text.splitlines() == [
        (f"{package}: {info.filename} was changed inside the package: the ZIP says so "
         f"(Bad CRC-32 for file '{info.filename}')"),
        f"verify: package {package} BROKEN: 1 problem(s)",
    ]


def test_a_changed_warc_rezipped_is_caught_by_its_hash(copy: WPWatch, package: Path) -> None:
    bad = package.with_name("bad.wacz")
    rezip(package, bad, lambda n, d: flip_byte(d) if n.endswith("en.warc.gz") else d)
    code, text = verify_package(copy, bad)
    assert code == 1
    (line, summary) = text.splitlines()
    assert re.fullmatch(rf"{re.escape(str(bad))}: archive/\S+en\.warc\.gz does not match its "
                        r"SHA256 in datapackage\.json: the file was changed", line), line
    assert summary.endswith("BROKEN: 1 problem(s)")


def test_a_missing_or_added_file_is_caught(copy: WPWatch, package: Path) -> None:
    missing = package.with_name("missing.wacz")
    rezip(package, missing, lambda n, d: None if n == "pages/pages.jsonl" else d)
    code, text = verify_package(copy, missing)
    assert code == 1
    assert (f"{missing}: pages/pages.jsonl is listed in datapackage.json but missing from the "
            "package") in text.splitlines()

    added = package.with_name("added.wacz")
    rezip(package, added, lambda n, d: d, add={"archive/extra.warc": b"WARC/1.1\r\n"})
    code, text = verify_package(copy, added)
    assert code == 1
    assert (f"{added}: archive/extra.warc is in the package but not listed in "
            "datapackage.json: it was added afterwards") in text.splitlines()


def test_an_edited_datapackage_is_caught(copy: WPWatch, package: Path) -> None:
    edited = package.with_name("edited.wacz")
    rezip(package, edited, lambda n, d: d.replace(b"wpwatch archive of", b"archive of", 1)
          if n == "datapackage.json" else d)
    code, text = verify_package(copy, edited)
    assert code == 1
    assert text.splitlines() == [
        (f"{edited}: datapackage.json does not match the hash in datapackage-digest.json: "
         "it was edited after the package was made"),
        f"verify: package {edited} BROKEN: 1 problem(s)",
    ]
    assert copy.run("verify", "--package", str(edited), "--json", check=False).returncode == 1


# -- the RFC 3161 token over the datapackage digest ----------------------------------------------
def test_a_stamped_package_verifies_and_openssl_agrees(
    copy: WPWatch, tsa: tuple[str, Path, list[bytes]], tmp_path: Path  # noqa: F811
) -> None:
    url, pki, received = tsa
    before = len(received)
    copy.config.write_text(f'[defaults]\ntsa_url = "{url}"\n')  # the config's authority
    out = tmp_path / "stamped.wacz"
    proc = copy.run("export", "--out", str(out))
    assert ", timestamped at 20" in proc.stdout and len(received) == before + 1
    wacz_validate(out)
    code, text = verify_package(copy, out, "--tsa-ca", str(pki / "ca.crt"))
    assert code == 0, text
    assert re.search(r"timestamp token of \S+Z matches \(signature checked\)", text), text
    code, text = verify_package(copy, out)
    assert code == 0 and "(signature not checked: pass --tsa-ca)" in text

    files = members(out)
    digest = json.loads(files["datapackage-digest.json"])
    (tmp_path / "datapackage.json").write_bytes(files["datapackage.json"])
    (tmp_path / "token.tsr").write_bytes(base64.b64decode(digest["rfc3161"]["token"]))
    subprocess.run(["openssl", "ts", "-verify", "-data", "datapackage.json", "-in", "token.tsr",
                    "-CAfile", str(pki / "ca.crt"), "-untrusted", str(pki / "tsa.crt")],
                   cwd=tmp_path, check=True, capture_output=True, timeout=60)


def test_a_bad_token_is_caught(
    copy: WPWatch, tsa: tuple[str, Path, list[bytes]], tmp_path: Path  # noqa: F811
) -> None:
    url, pki, _ = tsa
    out = tmp_path / "stamped.wacz"
    copy.run("export", "--tsa", url, "--out", str(out))
    other = tmp_path / "other"
    make_pki(other, "Other")
    code, text = verify_package(copy, out, "--tsa-ca", str(other / "ca.crt"))
    assert code == 1
    assert (f"{out}: the timestamp token in datapackage-digest.json does not hold: its "
            "signature does not verify against the given roots") in text

    def cut_token(name: str, data: bytes) -> bytes:
        if name != "datapackage-digest.json":
            return data
        doc = json.loads(data)
        doc["rfc3161"]["token"] = base64.b64encode(base64.b64decode(doc["rfc3161"]["token"])[:-40]
                                                   ).decode()
        return json.dumps(doc).encode()

    cut = tmp_path / "cut.wacz"
    rezip(out, cut, cut_token)
    code, text = verify_package(copy, cut)
    assert code == 1 and ("the timestamp token in datapackage-digest.json does not hold: it "
                          "cannot be parsed") in text

    # datapackage.json and its digest both rewritten: only the token still knows
    files = members(out)
    new_datapackage = files["datapackage.json"].replace(b"wpwatch archive of", b"archive of", 1)

    def rewrite(name: str, data: bytes) -> bytes:
        if name == "datapackage.json":
            return new_datapackage
        if name == "datapackage-digest.json":
            from archive.wacz import sha256_prefixed

            doc = json.loads(data)
            doc["hash"] = sha256_prefixed(new_datapackage)
            return json.dumps(doc).encode()
        return data

    forged = tmp_path / "forged.wacz"
    rezip(out, forged, rewrite)
    code, text = verify_package(copy, forged, "--tsa-ca", str(pki / "ca.crt"))
    assert code == 1
    assert text.splitlines() == [
        (f"{forged}: the timestamp token in datapackage-digest.json does not hold: it "
         "stamps a different hash"),
        f"verify: package {forged} BROKEN: 1 problem(s)",
    ]


# -- the command line ------------------------------------------------------------------------
def test_export_help_has_a_wacz_example(copy: WPWatch) -> None:
    out = copy.run("export", "--help").stdout
    assert "wpwatch export --format wacz --out evidence.wacz" in out
    assert "wpwatch verify --package" in copy.run("verify", "--help").stdout


def test_wacz_errors_are_one_line(copy: WPWatch, tmp_path: Path) -> None:
    proc = copy.run("export", "--format", "warc", "--out", str(tmp_path / "x.warc"), check=False)
    assert proc.returncode == 2
    assert proc.stderr == ("wpwatch: --format warc exports one site: add --site NAME_OR_URL "
                           "(--format wacz packages several)\n")
    proc = copy.run("export", "--out", str(tmp_path / "x.zip"), check=False)
    assert proc.returncode == 2 and proc.stderr == (
        "wpwatch: cannot tell the format from 'x.zip': add --format warc, jsonl or wacz\n")
    empty = WPWatch(db=tmp_path / "empty.db", config=tmp_path / "none.toml")
    proc = empty.run("export", "--out", str(tmp_path / "x.wacz"), check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("wpwatch: nothing to package: ")
    assert len(proc.stderr.splitlines()) == 1 and not (tmp_path / "x.wacz").exists()
    proc = copy.run("export", "--tsa", "http://127.0.0.1:9/tsr", "--out",
                    str(tmp_path / "y.wacz"), check=False)
    assert proc.returncode == 2 and proc.stderr.splitlines()[-1].startswith(
        "wpwatch: timestamp authority http://127.0.0.1:9/tsr unreachable")
    assert not (tmp_path / "y.wacz").exists() and not list(tmp_path.glob(".y.wacz*"))

    not_zip = tmp_path / "not.wacz"
    not_zip.write_bytes(b"hello")
    code, text = verify_package(copy, not_zip)
    assert code == 1 and text.startswith(f"{not_zip}: it is not a readable ZIP file")


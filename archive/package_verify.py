"""Offline check of a WACZ package: every file hash, the datapackage digest, the RFC 3161 token.

Each problem is one sentence naming the file and what is wrong with it:

* a file listed in ``datapackage.json`` that is missing, damaged in the ZIP (its
  CRC-32 fails) or whose SHA-256 or size is not the listed one;
* a file in the package that ``datapackage.json`` does not list;
* a ``datapackage.json`` whose SHA-256 is not the one in ``datapackage-digest.json``;
* a timestamp token (see archive/wacz.py) that cannot be parsed, stamps another
  hash, or whose signature does not verify against the given authority roots.

Nothing is fetched: the token's signature is checked against root certificates
given by the caller, as ``wpwatch verify --tsa-ca`` does for the archive.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from archive.tsa import check_token, decode_token
from archive.wacz import DIGEST_FILE, sha256_prefixed
from core.values import iso_utc

DATAPACKAGE = "datapackage.json"


@dataclass
class PackageReport:
    path: str
    files: int = 0  # files re-hashed and found as listed
    problems: list[str] = field(default_factory=list)
    timestamp: str | None = None  # genTime of a token that holds
    signature_checked: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def verify_package(path: Path, *, tsa_roots: Sequence[Any] | None = None) -> PackageReport:
    """Check a WACZ file; see the module doc. Never raises for a damaged package."""
    report = PackageReport(str(path))
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        report.problems.append(f"it is not a readable ZIP file ({exc})")
        return report
    with zf:
        names = set(zf.namelist())
        datapackage = _read(zf, DATAPACKAGE, report)
        digest_bytes = _read(zf, DIGEST_FILE, report)
        resources = _resources(datapackage, report)
        if resources is not None:
            _check_files(zf, names, resources, report)
        if datapackage is not None and digest_bytes is not None:
            _check_digest(datapackage, digest_bytes, tsa_roots, report)
    return report


def _read(zf: zipfile.ZipFile, name: str, report: PackageReport) -> bytes | None:
    try:
        return zf.read(name)
    except KeyError:
        report.problems.append(f"{name} is missing from the package")
    except (zipfile.BadZipFile, OSError) as exc:
        report.problems.append(f"{name} is damaged in the ZIP ({exc})")
    return None


def _resources(datapackage: bytes | None, report: PackageReport) -> list[dict[str, Any]] | None:
    if datapackage is None:
        return None
    try:
        doc = json.loads(datapackage)
        resources = doc["resources"]
        if not isinstance(resources, list) or not all(
            isinstance(r, dict) and isinstance(r.get("path"), str) for r in resources
        ):
            raise TypeError("resources is not a list of files with a path")
    except (ValueError, KeyError, TypeError) as exc:
        report.problems.append(f"{DATAPACKAGE} does not list the package files ({exc})")
        return None
    return resources


def _check_files(
    zf: zipfile.ZipFile, names: set[str], resources: list[dict[str, Any]], report: PackageReport
) -> None:
    listed = set()
    for res in resources:
        name = res["path"]
        listed.add(name)
        if name not in names:
            report.problems.append(f"{name} is listed in {DATAPACKAGE} but missing from the "
                                   "package")
            continue
        algorithm, _, expected = str(res.get("hash", "")).partition(":")
        if algorithm not in ("sha256", "md5") or not expected:
            report.problems.append(f"{name} has no usable hash in {DATAPACKAGE} "
                                   f"({res.get('hash')!r})")
            continue
        hasher, size = hashlib.new(algorithm), 0
        try:
            with zf.open(name) as fh:
                while chunk := fh.read(1 << 20):
                    hasher.update(chunk)
                    size += len(chunk)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            report.problems.append(f"{name} was changed inside the package: the ZIP says so "
                                   f"({exc})")
            continue
        if hasher.hexdigest() != expected:
            report.problems.append(f"{name} does not match its {algorithm.upper()} in "
                                   f"{DATAPACKAGE}: the file was changed")
        elif res.get("bytes") is not None and res["bytes"] != size:
            report.problems.append(f"{name} is {size} bytes, {DATAPACKAGE} says {res['bytes']}")
        else:
            report.files += 1
    for name in sorted(names - listed - {DATAPACKAGE, DIGEST_FILE}):
        if not name.endswith("/"):
            report.problems.append(f"{name} is in the package but not listed in {DATAPACKAGE}: "
                                   "it was added afterwards")


def _check_digest(
    datapackage: bytes, digest_bytes: bytes, roots: Sequence[Any] | None, report: PackageReport
) -> None:
    try:
        digest = json.loads(digest_bytes)
        recorded = digest["hash"]
    except (ValueError, KeyError, TypeError) as exc:
        report.problems.append(f"{DIGEST_FILE} holds no hash of {DATAPACKAGE} ({exc})")
        return
    if digest.get("path", DATAPACKAGE) != DATAPACKAGE:
        report.problems.append(f"{DIGEST_FILE} is the digest of {digest.get('path')!r}, "
                               f"not of {DATAPACKAGE}")
    if recorded != sha256_prefixed(datapackage):
        report.problems.append(f"{DATAPACKAGE} does not match the hash in {DIGEST_FILE}: "
                               "it was edited after the package was made")
    stamp = digest.get("rfc3161")
    if stamp is None:
        return
    try:
        token = base64.b64decode(stamp["token"], validate=True)
    except (KeyError, TypeError, binascii.Error) as exc:
        report.problems.append(f"the timestamp token in {DIGEST_FILE} is not base64 DER ({exc})")
        return
    wrong = check_token(token, datapackage, roots)
    if wrong is not None:
        report.problems.append(f"the timestamp token in {DIGEST_FILE} does not hold: {wrong}")
        return
    info = decode_token(token).tst_info
    report.timestamp = iso_utc(info.gen_time)
    report.signature_checked = bool(roots)

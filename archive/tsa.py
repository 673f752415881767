"""RFC 3161 trusted timestamps of chain heads.

A site's chain head (its newest link's ``chain_hash``) commits to every record
before it, so one timestamp token per round proves that the whole archive of
that site up to that link existed at the authority's time, and lets `verify`
see records removed from the end of a chain.

The stamped message is the canonical JSON ``{"chain", "site", "seq",
"chain_hash"}``; the request asks for SHA-256, a nonce and the authority's
certificate. The token (the DER ``TimeStampResp`` as received) is stored in
``chain_stamps``; it can be checked with OpenSSL too:
``openssl ts -verify -data MSG -in TOKEN -CAfile tsa-ca.pem``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import requests
from asn1crypto import cms, tsp
from cryptography import x509
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)
from sqlalchemy import insert, select

from archive import schema as s
from archive.chain import CHAIN_FORMAT, canonical_json, chain_head, sha256_hex
from archive.store import Archive, utcnow
from core.exceptions import TimestampError
from core.values import iso_utc

logger = logging.getLogger(f"wpwatch.{__name__}")


@dataclass(frozen=True)
class Stamp:
    site: str
    seq: int
    chain_hash: str
    gen_time: str
    tsa_url: str


def stamp_message(site_url: str, seq: int, chain_hash: str) -> bytes:
    """The bytes whose SHA-256 the authority signs for one chain head."""
    return canonical_json(
        {"chain": CHAIN_FORMAT, "site": site_url, "seq": seq, "chain_hash": chain_hash}
    )


def load_roots(pem: bytes) -> list[x509.Certificate]:
    """The authority's root certificate(s), PEM."""
    return x509.load_pem_x509_certificates(pem)


def request_token(
    tsa_url: str, message: bytes, *, session: requests.Session | None = None, timeout: float = 30
) -> tuple[bytes, str]:
    """Ask the authority to stamp message; returns (DER TimeStampResp, genTime ISO UTC)."""
    req = (
        TimestampRequestBuilder()
        .data(message)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    http = session or requests.Session()
    try:
        resp = http.post(
            tsa_url,
            data=req.as_bytes(),
            headers={"Content-Type": "application/timestamp-query"},
            timeout=timeout,
        )
    except requests.RequestException as exc:
        raise TimestampError(f"timestamp authority {tsa_url} unreachable: {exc}") from exc
    if resp.status_code != 200:
        raise TimestampError(f"timestamp authority {tsa_url} answered HTTP {resp.status_code}")
    try:
        tsr = decode_token(resp.content)
    except ValueError as exc:
        raise TimestampError(
            f"timestamp authority {tsa_url} sent no timestamp reply: {exc}"
        ) from exc
    if PKIStatus(tsr.status) not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        raise TimestampError(f"timestamp authority {tsa_url} refused: {tsr.status_string}")
    info = tsr.tst_info
    if info.message_imprint.message != sha256_bytes(message) or info.nonce != req.nonce:
        raise TimestampError(f"timestamp authority {tsa_url} stamped something else")
    gen = (
        info.gen_time.astimezone(UTC)
        if info.gen_time.tzinfo
        else info.gen_time.replace(tzinfo=UTC)
    )
    return resp.content, iso_utc(gen)


def decode_token(token: bytes) -> TimeStampResponse:
    """Parse a TimeStampResp, also one whose certificate SET is not in DER order.

    OpenSSL's `ts -reply` (and TSAs built on it) lists the certificates in
    chain order; rfc3161-client wants DER's sorted order. The signature does
    not cover that set, so sorting it changes nothing that is signed. The token
    is stored as received; this only reads it.
    """
    try:
        return decode_timestamp_response(token)
    except ValueError as exc:
        if "InvalidSetOrdering" not in str(exc):
            raise
    resp = tsp.TimeStampResp.load(token)
    signed = resp["time_stamp_token"]["content"]
    signed["certificates"] = cms.CertificateSet(
        sorted(signed["certificates"], key=lambda c: c.dump())
    )
    return decode_timestamp_response(resp.dump())


def sha256_bytes(data: bytes) -> bytes:
    return bytes.fromhex(sha256_hex(data))


def check_token(token: bytes, message: bytes, roots: Sequence[Any] | None) -> str | None:
    """What is wrong with a stored token for message, or None. Signatures need roots."""
    try:
        tsr = decode_token(token)
    except ValueError as exc:
        return f"it cannot be parsed ({exc})"
    if tsr.tst_info.message_imprint.message != sha256_bytes(message):
        return "it stamps a different hash"
    if not roots:
        return None
    builder = VerifierBuilder()
    for root in roots:
        builder = builder.add_root_certificate(root)
    try:
        builder.build().verify_message(tsr, message)
    except VerificationError as exc:
        return f"its signature does not verify against the given roots ({exc})"
    return None


def stamp_heads(
    archive: Archive,
    tsa_url: str,
    *,
    site_ids: Sequence[int] | None = None,
    session: requests.Session | None = None,
) -> list[Stamp]:
    """Timestamp each site's chain head that is not stamped yet; returns the new stamps.

    Call it at the end of a round (one token per site and round, only when the
    round wrote something), or from cron with `wpwatch timestamp`.
    """
    st = s.chain_stamps.c
    out = []
    for site in archive.list_sites():
        if site_ids is not None and site["id"] not in site_ids:
            continue
        with archive.engine.connect() as conn:
            head = chain_head(conn, site["id"])
            done = head is None or conn.execute(
                select(st.id).where(st.site_id == site["id"], st.seq == head[0],
                                    st.chain_hash == head[1])
            ).first() is not None
        if done or head is None:
            continue
        seq, chain_hash = head
        token, gen_time = request_token(
            tsa_url, stamp_message(site["url"], seq, chain_hash), session=session
        )
        with archive.engine.begin() as conn:
            conn.execute(insert(s.chain_stamps).values(
                site_id=site["id"], seq=seq, chain_hash=chain_hash, tsa_url=tsa_url,
                token=token, gen_time=gen_time, created_at=utcnow(),
            ))
        logger.info("timestamped %s head #%d at %s", site["url"], seq, gen_time)
        out.append(Stamp(site["url"], seq, chain_hash, gen_time, tsa_url))
    return out

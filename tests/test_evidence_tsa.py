"""RFC 3161 timestamps of chain heads against a real timestamp authority on loopback.

The authority is OpenSSL's own (`openssl ts -reply`) behind a small HTTP handler, with a
CA and a TSA certificate made for the test. `wpwatch timestamp` stamps each site's head,
`wpwatch verify --tsa-ca` checks the tokens' signatures and that each stamped head is
still in the chain, which catches records removed from the end of a chain.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import WPWatch
from tests.test_evidence import sql, verify

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

TSA_CONF = """\
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
certs = $dir/ca.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_pki(d: Path, name: str = "Test") -> None:
    """A root CA and a TSA certificate it signed (critical EKU timeStamping)."""
    d.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.crt", "-days", "30", "-subj", f"/CN={name} Root CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr",
             "-subj", f"/CN={name} TSA", cwd=d)
    (d / "tsa.ext").write_text("basicConstraints=critical,CA:FALSE\n"
                               "keyUsage=critical,digitalSignature,nonRepudiation\n"
                               "extendedKeyUsage=critical,timeStamping\n")
    _openssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "tsa.crt", "-days", "30", "-extfile", "tsa.ext", cwd=d)
    (d / "serial").write_text("01\n")
    (d / "tsa.cnf").write_text(TSA_CONF.format(dir=d))


class TSAHandler(BaseHTTPRequestHandler):
    pki: Path
    requests: list[bytes]

    def do_POST(self) -> None:
        query = self.rfile.read(int(self.headers["Content-Length"]))
        self.requests.append(query)
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "q.tsq").write_bytes(query)
            proc = subprocess.run(
                ["openssl", "ts", "-reply", "-config", str(self.pki / "tsa.cnf"),
                 "-queryfile", "q.tsq", "-out", "r.tsr"],
                check=False, cwd=tmp, capture_output=True, timeout=60,
            )
            if proc.returncode != 0:
                self.send_error(500, proc.stderr.decode(errors="replace")[:200])
                return
            reply = (Path(tmp) / "r.tsr").read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, list[bytes]]]:
    """(URL, PKI directory, requests received) of a running authority."""
    pki = tmp_path_factory.mktemp("tsa")
    make_pki(pki)
    handler = type("Handler", (TSAHandler,), {"pki": pki, "requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tsr", pki, handler.requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_heads_are_stamped_once_and_verified(copy: WPWatch, tsa: tuple[str, Path, list[bytes]]
                                             ) -> None:
    url, pki, received = tsa
    before = len(received)
    out = copy.run("timestamp", "--tsa", url).stdout
    assert "timestamped at" in out and len(received) == before + 1
    assert copy.run("timestamp", "--tsa", url).stdout.startswith("nothing new to timestamp")
    assert len(received) == before + 1

    code, out = verify(copy, "--tsa-ca", str(pki / "ca.crt"))
    assert code == 0, out
    assert "1 timestamp(s) match (signatures checked)" in out
    code, out = verify(copy)
    assert code == 0 and "signatures not checked: pass --tsa-ca" in out

    # the token is a standard one: OpenSSL verifies it over the same message
    from archive.tsa import stamp_message

    ((site_url, seq, chain_hash, token),) = sql(
        copy.db, "SELECT s.url, t.seq, t.chain_hash, t.token FROM chain_stamps t "
                 "JOIN sites s ON s.id = t.site_id")
    (copy.db.parent / "msg").write_bytes(stamp_message(site_url, seq, chain_hash))
    (copy.db.parent / "token.tsr").write_bytes(token)
    subprocess.run(["openssl", "ts", "-verify", "-data", "msg", "-in", "token.tsr",
                    "-CAfile", str(pki / "ca.crt"), "-untrusted", str(pki / "tsa.crt")],
                   cwd=copy.db.parent, check=True, capture_output=True, timeout=60)

    # and the WARC export carries it
    from tests.test_export import read_warc

    warc = copy.db.parent / "site.warc.gz"
    copy.run("export", "--site", site_url, "--out", str(warc))
    (stamp,) = [r for r in read_warc(warc) if r["type"] == "resource"
                and r["headers"]["WARC-Target-URI"].startswith("urn:wpwatch:chain-head:")]
    assert stamp["payload"] == token
    assert stamp["headers"]["WARC-Target-URI"] == f"urn:wpwatch:chain-head:{chain_hash}"
    assert stamp["headers"]["Content-Type"] == "application/timestamp-reply"


def test_records_removed_from_the_end_of_a_chain_are_caught(
    copy: WPWatch, tsa: tuple[str, Path, list[bytes]]
) -> None:
    url, pki, _ = tsa
    copy.run("timestamp", "--tsa", url)
    ((last,),) = sql(copy.db, "SELECT max(seq) FROM chain_links")
    ((record, record_id),) = sql(copy.db, "SELECT record, record_id FROM chain_links WHERE seq=?",
                                 last)
    sql(copy.db, f"DELETE FROM {record}s WHERE id=?", record_id)
    sql(copy.db, "DELETE FROM chain_links WHERE seq=?", last)
    code, out = verify(copy, "--tsa-ca", str(pki / "ca.crt"))
    assert code == 1
    assert f"BROKEN at link #{last} of {last - 1}" in out
    assert (f"is link #{last}, but the chain now ends at #{last - 1}: the last 1 record(s) "
            "were removed") in out


def test_a_token_from_another_authority_or_edited_fails(
    copy: WPWatch, tsa: tuple[str, Path, list[bytes]], tmp_path: Path
) -> None:
    url, pki, _ = tsa
    copy.run("timestamp", "--tsa", url)
    other = tmp_path / "other"
    make_pki(other, "Other")
    code, out = verify(copy, "--tsa-ca", str(other / "ca.crt"))
    assert code == 1 and "the token does not hold: its signature does not verify" in out

    ((token,),) = sql(copy.db, "SELECT token FROM chain_stamps")
    sql(copy.db, "UPDATE chain_stamps SET token=?", token[:-40])
    code, out = verify(copy, "--tsa-ca", str(pki / "ca.crt"))
    assert code == 1 and "the token does not hold: it cannot be parsed" in out


def test_an_unreachable_authority_is_one_line(copy: WPWatch) -> None:
    proc = copy.run("timestamp", "--tsa", "http://127.0.0.1:9/tsr", check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("wpwatch: timestamp authority http://127.0.0.1:9/tsr unreachable")
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_the_daemon_stamps_each_round_head(
    tmp_path: Path, tsa: tuple[str, Path, list[bytes]]
) -> None:
    """With `tsa_url` set, each round that wrote something gets its chain head stamped."""
    import signal

    from tests.test_daemon import DaemonProcess, wait_until
    from wpwatch.demo.server import DemoServer, load_demo_site

    url, pki, _ = tsa
    site = load_demo_site()
    with DemoServer(site) as srv:
        d = DaemonProcess(tmp_path, f'[defaults]\ninterval = "1s"\ntsa_url = "{url}"\n\n'
                                    f'[[sites]]\nname = "demo"\nurl = "{srv.url_for(site)}"\n')
        d.start()
        try:
            def stamped() -> bool:
                try:
                    return sql(d.db, "SELECT count(*) FROM chain_stamps")[0][0] >= 1
                except Exception:  # the daemon has not created the archive yet
                    return False

            wait_until("a stamped chain head", stamped)
        finally:
            assert d.stop(signal.SIGTERM) == 0
    proc = subprocess.run(
        [sys.executable, "-m", "wpwatch", "--db", str(d.db), "verify", "--tsa-ca",
         str(pki / "ca.crt")],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "(signatures checked)" in proc.stdout

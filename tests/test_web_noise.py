"""The workspace hides what the ignore rules set aside, as `wpwatch changes` does.

A real crawl of the demo site under `[sites.ignore]`: a view counter that moves is
`noise`, a paragraph edit is a change. The queue and `/api/changes` list only the
change; `noise=1` lists both; counts follow the same rule.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.conftest import WPWatch
from tests.test_web_http import Server, start_server, stop_server
from wpwatch.demo import DemoServer, DemoSite


@pytest.fixture
def noisy(wpwatch: WPWatch) -> Iterator[Server]:
    site = DemoSite("Ministry")
    counter = site.add("Counter", "<p>Our statement.</p><p>Views: 12</p>")
    edited = site.add("Statement", "<p>We condemn the arrests.</p><p>Views: 40</p>")
    with DemoServer(site) as demo:
        url = demo.url_for(site).rstrip("/")
        wpwatch.config.write_text(
            f'[[sites]]\nname = "ministry"\nurl = "{url}"\n'
            "[sites.ignore]\npatterns = ['Views: \\d+']\n"
        )
        wpwatch.run("crawl")  # the baseline
        site.edit(counter, content="<p>Our statement.</p><p>Views: 13</p>")
        site.edit(edited, content="<p>We condemn the arrests.</p><p>Views: 41</p>"
                                        "<p>We call for their release.</p>")
        wpwatch.run("crawl")
    server = start_server(wpwatch.db, wpwatch.config)
    server.add_user("ana", "viewer")
    try:
        yield server
    finally:
        stop_server(server)


def test_noise_is_left_out_of_the_queue_unless_asked(noisy: Server, wpwatch: WPWatch) -> None:
    every = {c["title"]: c["verdict"] for c in wpwatch.json("changes", "--json", "--all")}
    assert every == {"Counter": "noise", "Statement": "change"}
    headers = {"Authorization": f"Bearer {noisy.token('ana')}"}

    def titles(query: str) -> tuple[list[str], int]:
        data = requests.get(f"{noisy.url}/api/changes{query}", headers=headers,
                            timeout=30).json()
        return sorted(c["title"] for c in data["changes"]), data["total"]

    assert titles("") == (["Statement"], 1)
    assert titles("?noise=1") == (["Counter", "Statement"], 2)
    page = noisy.login("ana").get(noisy.url + "/", timeout=30).text
    assert "Statement" in page and "Counter" not in page
    assert 'name="noise"' in page  # the box that asks for noise too


"""``python -m wpwatch.demo.server``: serve the bundled demo site until Ctrl-C.

This module is also the stable import path of the demo server's public names
(``from wpwatch.demo.server import DemoServer, DemoSite``); they live in the
modules of this package, one job each:

* :mod:`~wpwatch.demo.site` -- :class:`DemoSite`, one WordPress site in memory
  and the router that answers one request for it;
* :mod:`~wpwatch.demo.serving` -- :class:`DemoServer`, the HTTP listeners;
* :mod:`~wpwatch.demo.bundled` -- :func:`load_demo_site`, the bundled data set;
* :mod:`~wpwatch.demo.changes` -- :func:`apply_demo_changes`, the scripted edits.
"""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Sequence

from wpwatch.demo.bundled import load_demo_site
from wpwatch.demo.changes import apply_demo_changes
from wpwatch.demo.clock import ManualClock
from wpwatch.demo.model import Post, PostType, Taxonomy, Term
from wpwatch.demo.response import Response
from wpwatch.demo.serving import DemoServer
from wpwatch.demo.site import DemoSite

logger = logging.getLogger(__name__)

__all__ = [
    "DemoServer",
    "DemoSite",
    "ManualClock",
    "Post",
    "PostType",
    "Response",
    "Taxonomy",
    "Term",
    "apply_demo_changes",
    "load_demo_site",
    "main",
]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m wpwatch.demo.server --port 8765``: serve the demo site until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m wpwatch.demo.server",
        description="Serve the bundled WordPress demo site (REST API, feed, sitemaps).",
        epilog="example: python -m wpwatch.demo.server --port 8765 --prefix /en",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 = any free)")
    parser.add_argument("--prefix", default="", help="serve under a path, e.g. /en")
    parser.add_argument(
        "--gmt-offset", type=float, default=None, help="site timezone in hours east of UTC"
    )
    parser.add_argument(
        "--extra-posts",
        type=int,
        default=0,
        help="add this many generated back-dated posts (for load tests)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    extra = {} if args.gmt_offset is None else {"gmt_offset": args.gmt_offset}
    site = load_demo_site(**extra)
    if args.extra_posts:
        site.add_many(args.extra_posts)
    server = DemoServer(site, host=args.host, port=args.port, prefix=args.prefix)
    server.start()
    logger.info(
        "demo WordPress site on %s (REST API at %s); Ctrl-C stops it", site.url, site.api_root
    )
    stop = threading.Event()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        logger.info("served %s", site.stats())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

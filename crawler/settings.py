"""Scrapy settings for wpwatch's crawler (`scrapy.cfg` points here)."""

from __future__ import annotations

from core.about import USER_AGENT  # noqa: F401  (a Scrapy setting)

BOT_NAME = "wpwatch"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# Politeness: robots.txt, AutoThrottle, one site at a time from each spider.
ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_DELAY = 0
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 64 * 1024 * 1024
DOWNLOAD_WARNSIZE = 0

# The spider retries itself, with backoff and Retry-After (Scrapy's
# RetryMiddleware re-sends at once, without either).
RETRY_ENABLED = False
WPWATCH_RETRY_TIMES = 2
WPWATCH_RETRY_BASE_DELAY = 1.0
WPWATCH_RETRY_AFTER_CAP = 120.0

# API calls are never redirected to another host behind our back; the
# spider follows same-site redirects itself where it makes sense.
REDIRECT_ENABLED = True
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# Scrapy 2.19's remote control (an HTTP server per crawl that runs code sent to it):
# nothing here needs it, and a watcher of hostile sites keeps no such door open.
REMOTE_CONTROL_ENABLED = False
HTTPCACHE_ENABLED = False

# robots.txt rules that expire (a node's crawler lives for weeks: crawler.middlewares)
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.FreshRobotsTxt": 100,
}
WPWATCH_ROBOTSTXT_MAX_AGE = 3600
# Seconds an idle connection to a site stays open on a node's long-lived crawler.
WPWATCH_IDLE_CONNECTION_TIMEOUT = 15
# Posts whose round memory a node keeps between rounds, in all sites (~300 bytes each).
WPWATCH_KEPT_MEMORY_POSTS = 200_000
# Seconds a node runs a site's rounds on the types listing an earlier round read
# (crawler.memories.KeptTypeLists; 0: read it every round), and for how many sites.
WPWATCH_TYPES_MAX_AGE = 900
WPWATCH_KEPT_TYPE_LISTS = 100_000

ITEM_PIPELINES = {"crawler.pipelines.ArchivePipeline": 300}

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
LOG_LEVEL = "WARNING"

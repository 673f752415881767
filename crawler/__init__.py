"""The Scrapy project: fetches WordPress REST responses and hands them on as items."""

"""Spiders of the wpwatch Scrapy project."""

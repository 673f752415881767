"""The Scrapy project: fetches WordPress REST responses and hands them on as items.

How one round of one site flows, from request to commit::

    runner.RoundRunner.run_site(spec)
      │ load_round_state(archive, spec) ─ reads only: API root, type states,
      │                                   known posts, post links, fallback URLs seen
      ▼
    spiders.wordpress.WordPressSpider.start()        (reads its frozen RoundState)
      │ fetcher.Fetcher.get(url) ─ Scrapy engine (robots.txt, AutoThrottle, size cap),
      │                            retries with backoff, faults named, round deadline
      │ discovery ── ApiRootFound
      │ listing.TypeRound, per type ── PostsFetched, PostGone, …, TypeDone
      │   (with_state_on_last folds TypeDone's watermarks into the type's last item)
      │ degraded.DegradedRound (REST closed) ── FallbackFetched, FallbackSeen
      │ a data: request whose callback yields ── RoundEnd (outcome, errors)
      ▼
    pipelines.ArchivePipeline — the only writer, one item at a time, in order
      open_spider:  the site row and the round row ("running")
      process_item: one transaction per item (versions, changes, evidence chain,
                    alert outbox); a type's watermarks commit with its last item,
                    and never after an earlier item of that type failed to store
      close_spider: the round's outcome (ok, errors, degraded, failed, interrupted)
      ▼
    runner: reads the round's record back for the CLI and the daemon

The spider never opens the archive; the runner never writes to it.
"""

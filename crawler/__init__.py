"""The Scrapy project: fetches WordPress REST responses and hands them on as items.

How one round of one site flows, from request to commit::

    runner.RoundRunner.run_site(spec)
      │ load_round_state(archive, spec) ─ reads only, in one transaction: API root,
      │                    type states, known posts and their links, fallback URLs seen
      │   (a node: Archive.begin_round reads it, or checks the copy it kept from an
      │    earlier round is current (memories.KeptMemories), and opens the round)
      ▼
    rounds.SiteRound.items()                         (reads its frozen RoundState)
      │   driven by a Crawler per round (spiders.wordpress: crawl, the daemon)
      │   or by a node's one long-lived crawler (host.CrawlerHost)
      │ fetcher.Fetcher.get(url) ─ Scrapy engine (robots.txt, AutoThrottle, size cap),
      │                            retries with backoff, faults named, round deadline
      │ discovery ── ApiRootFound    (a node: the types listing an earlier round
      │   read, memories.KeptTypeLists, while every listing answers)
      │ listing.TypeRound, per type ── PostsFetched, PostGone, …, TypeDone
      │   (with_state_on_last folds TypeDone's watermarks into the type's last item)
      │ degraded.DegradedRound (REST closed) ── FallbackFetched, FallbackSeen
      │ last ── RoundEnd (outcome, errors)
      ▼
    pipelines.RoundWriter — the only writer, one item at a time, in order
      open:   the site row and the round row ("running"), one transaction
      store:  one transaction per item (versions, changes, evidence chain, alert
              outbox); a type's watermarks commit with its last item, never after an
              earlier item of that type failed to store, and not when unchanged
      finish: the round's outcome (ok, errors, degraded, failed, interrupted) and
              its record, one transaction
      (pipelines.ArchivePipeline drives it from Scrapy's item pipeline)
      ▼
    runner: the round's record, for the CLI, the daemon and the nodes

The round never opens the archive; the runner never writes to it.
"""

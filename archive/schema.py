"""The archive's schema: SQLAlchemy Core tables, portable to PostgreSQL.

Evidence model: every HTTP response that produced a stored version (or
proved a deletion / unpublication) is kept in ``responses`` exactly as
received (zlib-compressed body, SHA-256 of the uncompressed bytes, URL,
status, headers, fetch time). A version points at the response it came from
and the index of its record inside that response (a listing holds up to 100
posts), so the bytes of the evidence are stored once and never rewritten.
"""

from __future__ import annotations

from sqlalchemy import (
    DDL,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    false,
)

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", String(32), nullable=False),
)

sites = Table(
    "sites",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("url", String(2048), nullable=False, unique=True),
    Column("name", String(200)),
    Column("api_root", String(2048)),
    Column("created_at", String(32), nullable=False),
    # moves with every write to the site's round memory (its posts' states and stamps,
    # its types' watermarks, degraded mode's URLs): a copy kept across rounds is read
    # again only when it moved (`Archive.round_memory`)
    Column("memory_version", Integer, nullable=False, server_default="0"),
)

# One row per watched content type of a site: the incremental round's memory.
site_types = Table(
    "site_types",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("type", String(200), nullable=False),  # the REST base, e.g. "posts"
    Column("slug", String(200)),  # the type slug, e.g. "post"
    Column("baselined", Boolean, nullable=False, default=False),
    Column("modified_watermark", String(32)),  # newest modified_gmt seen (UTC)
    Column("date_watermark", String(32)),  # newest date_gmt seen (UTC)
    Column("max_id", Integer),  # highest post id seen
    Column("last_total", Integer),  # X-WP-Total of the last round
    UniqueConstraint("site_id", "type"),
)

responses = Table(
    "responses",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("url", Text, nullable=False),
    Column("method", String(10), nullable=False, default="GET"),
    Column("status", Integer, nullable=False),
    Column("headers", Text, nullable=False),  # JSON list of [name, value]
    Column("body", LargeBinary, nullable=False),  # zlib-compressed raw bytes
    Column("sha256", String(64), nullable=False),  # of the raw (uncompressed) bytes
    Column("size", Integer, nullable=False),
    Column("fetched_at", String(32), nullable=False),
    # the request carried an own site's login (the Authorization header is never stored)
    Column("authenticated", Boolean, nullable=False, default=False, server_default=false()),
)

posts = Table(
    "posts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("type", String(200), nullable=False),
    Column("wp_id", Integer, nullable=False),
    # published | unpublished | deleted
    Column("state", String(20), nullable=False),
    Column("current_version_id", Integer),
    Column("modified_gmt", String(32)),
    Column("date_gmt", String(32)),
    Column("link", Text),
    Column("title", Text),
    Column("first_seen", String(32), nullable=False),
    Column("last_seen", String(32), nullable=False),
    UniqueConstraint("site_id", "type", "wp_id"),
)

versions = Table(
    "versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("post_id", Integer, ForeignKey("posts.id"), nullable=False),
    Column("response_id", Integer, ForeignKey("responses.id"), nullable=False),
    Column("item_index", Integer),  # position in a JSON list; NULL for a single object
    Column("content_hash", String(64), nullable=False),  # of the normalized form
    Column("normalized", LargeBinary, nullable=False),  # zlib JSON of the normalized form
    Column("modified_gmt", String(32)),
    Column("revision_count", Integer),
    Column("fetched_at", String(32), nullable=False),
    # 1, 2, 3 … per post, in write order (schema "per-post order"; revisions WordPress
    # saved are numbered with the polled versions): with the unique index below, a round
    # run twice at once (a job re-run by another node) cannot store a post's next version
    # twice; the loser's transaction fails and stores nothing.
    Column("post_seq", Integer, nullable=False, server_default="0"),
    UniqueConstraint("post_id", "response_id"),
)
Index("ix_versions_post", versions.c.post_id)
Index("ux_versions_post_seq", versions.c.post_id, versions.c.post_seq, unique=True)

#: Versions that are revisions WordPress saved (own sites, read with credentials): who
#: saved each and when. Such a version never becomes a post's current version.
revisions = Table(
    "revisions",
    metadata,
    Column("version_id", Integer, ForeignKey("versions.id"), primary_key=True),
    Column("post_id", Integer, ForeignKey("posts.id"), nullable=False),
    Column("wp_revision_id", Integer, nullable=False),
    Column("autosave", Boolean, nullable=False, default=False),
    Column("author_id", Integer),
    Column("author_login", String(200)),
    Column("saved_gmt", String(32), nullable=False),  # the revision's modified_gmt
    # an autosave keeps its id when it is overwritten: its time tells the saves apart
    UniqueConstraint("post_id", "wp_revision_id", "saved_gmt"),
)
Index("ix_revisions_post", revisions.c.post_id)

rounds = Table(
    "rounds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("full", Boolean, nullable=False, default=False),
    Column("started_at", String(32), nullable=False),
    Column("finished_at", String(32)),
    # running | ok | errors | failed | interrupted
    Column("outcome", String(20), nullable=False),
    Column("requests", Integer, nullable=False, default=0),
    Column("bytes", BigInteger, nullable=False, default=0),  # a full round can pass 2 GB
    Column("errors", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("counts", Text),  # JSON {"new": n, "edited": n, ...}
)
Index("ix_rounds_site", rounds.c.site_id, rounds.c.id)

changes = Table(
    "changes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("post_id", Integer, ForeignKey("posts.id"), nullable=False),
    Column("round_id", Integer, ForeignKey("rounds.id")),
    # new | edited | unpublished | deleted | restored
    Column("kind", String(20), nullable=False),
    Column("from_version_id", Integer, ForeignKey("versions.id")),
    Column("to_version_id", Integer, ForeignKey("versions.id")),
    Column("response_id", Integer, ForeignKey("responses.id")),  # evidence of a gone post
    Column("fields", Text, nullable=False, default="[]"),  # JSON list
    Column("detected_at", String(32), nullable=False),
    # How the change scores under the site's ignore rules (schema: ignore rules). Not
    # evidence and not chained: `wpwatch rescore` rewrites these four, nothing else.
    Column("verdict", String(10)),  # change | noise; NULL: scored before rules existed
    Column("scored_fields", Text),  # JSON list: what changed that the rules keep
    Column("noise_rules", Text),  # JSON list: the rules that made it noise
    Column("ruleset", String(64)),  # rule_sets.hash it was scored under
    # 1, 2, 3 … per post (schema "per-post order"): one change per step of a post's
    # history, so the same step recorded twice is refused by the database (see
    # versions.post_seq).
    Column("post_seq", Integer, nullable=False, server_default="0"),
)
Index("ix_changes_detected", changes.c.detected_at)
Index("ix_changes_post", changes.c.post_id)
Index("ux_changes_post_seq", changes.c.post_id, changes.c.post_seq, unique=True)

# When the daemon will next run each site (schema 2): read by `wpwatch status`.
schedule = Table(
    "schedule",
    metadata,
    Column("site_url", String(2048), primary_key=True),
    Column("next_due", String(32)),
    Column("next_full_due", String(32)),
    Column("updated_at", String(32), nullable=False),
)
# The dispatcher of several nodes asks "what is due now?" every second (schema 12).
Index("ix_schedule_next_due", schedule.c.next_due)
Index("ix_schedule_next_full_due", schedule.c.next_full_due)

# Several nodes on one PostgreSQL archive (schema 12, archive/cluster.py). The config
# every node runs: the text of the wpwatch.toml that a node last started or reloaded
# with (``env:`` references stay references: each node reads its own secrets).
cluster_config = Table(
    "cluster_config",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1: one config per archive
    Column("digest", String(64), nullable=False),  # SHA-256 of the text
    Column("config", Text, nullable=False),
    Column("published_at", String(32), nullable=False),
    Column("published_by", String(200), nullable=False),  # the node's name
)
# Every node that ran: its heartbeat and what it did (for `wpwatch status`).
cluster_nodes = Table(
    "cluster_nodes",
    metadata,
    Column("name", String(200), primary_key=True),  # host:pid
    Column("started_at", String(32), nullable=False),
    Column("last_seen", String(32), nullable=False),
    Column("stopped_at", String(32)),
    Column("dispatcher", Boolean, nullable=False, default=False),
    Column("running", Integer, nullable=False, default=0),  # rounds running now
    Column("rounds", Integer, nullable=False, default=0),  # rounds run since it started
    Column("recovered", Integer, nullable=False, default=0),  # stalled jobs it gave back
)
# When each round was due and when a node started it: the start delay.
round_starts = Table(
    "round_starts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("site_url", String(2048), nullable=False),
    Column("due_at", String(32), nullable=False),
    Column("started_at", String(32), nullable=False),
    Column("node", String(200), nullable=False),
)
Index("ix_round_starts_started", round_starts.c.started_at)

# The per-site hash chain (schema 3, archive/chain.py): one link per stored
# version and per change, in write order. ``record`` + ``record_id`` name the
# version or change row; ``canonical`` is the JSON record that ``record_hash``
# covers; ``chain_hash`` covers ``seq``, ``prev_hash`` and ``record_hash``.
chain_links = Table(
    "chain_links",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("seq", Integer, nullable=False),  # 1, 2, 3 … per site, no gaps
    Column("record", String(10), nullable=False),  # version | change
    Column("record_id", Integer, nullable=False),
    Column("canonical", Text, nullable=False),
    Column("record_hash", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("chain_hash", String(64), nullable=False),
    Column("chained_at", String(32), nullable=False),
    UniqueConstraint("site_id", "seq"),
    UniqueConstraint("record", "record_id"),
)

# RFC 3161 timestamp tokens over chain heads (schema 3, archive/tsa.py).
chain_stamps = Table(
    "chain_stamps",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("seq", Integer, nullable=False),  # the head that was stamped
    Column("chain_hash", String(64), nullable=False),
    Column("tsa_url", Text, nullable=False),
    Column("token", LargeBinary, nullable=False),  # the DER TimeStampResp as received
    Column("gen_time", String(32), nullable=False),  # the TSA's time, ISO 8601 UTC
    Column("created_at", String(32), nullable=False),
)
Index("ix_chain_stamps_site", chain_stamps.c.site_id, chain_stamps.c.seq)

# Watch health (schema "watch health"): each site's current episode, and one event per
# change of episode (site-failing, site-degraded, site-recovered) that alerts point at.
# An episode is alerted once, when it starts; its end is alerted once, when it ends.
site_health = Table(
    "site_health",
    metadata,
    Column("site_id", Integer, ForeignKey("sites.id"), primary_key=True),
    Column("state", String(20), nullable=False),  # healthy | failing | degraded
    Column("since", String(32), nullable=False),  # when the episode started (ISO UTC)
    Column("round_id", Integer, ForeignKey("rounds.id")),  # the round that started it
    Column("updated_at", String(32), nullable=False),
)

health_events = Table(
    "health_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("kind", String(20), nullable=False),  # site-failing | site-degraded | site-recovered
    Column("round_id", Integer, ForeignKey("rounds.id"), nullable=False),  # that decided it
    Column("since", String(32), nullable=False),  # the start of the episode it opens or ends
    Column("detected_at", String(32), nullable=False),
    Column("rounds", Integer, nullable=False, default=0),  # failed rounds in a row, or ended
    Column("reason", Text),  # the round's error, one line
    UniqueConstraint("round_id", "kind"),
)
Index("ix_health_events_site", health_events.c.site_id, health_events.c.id)

# The alert outbox (schema 4): one row per (channel, change), written in the
# change's own transaction; delivery marks it sent. The unique (channel, change_id)
# is what keeps a change from being alerted twice on one route.
alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(200), nullable=False),
    # a change, or (schema "watch health") a health event; exactly one of the two
    Column("change_id", Integer, ForeignKey("changes.id")),
    Column("event_id", Integer, ForeignKey("health_events.id")),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("round_id", Integer, ForeignKey("rounds.id")),
    Column("digest", String(20), nullable=False),  # immediate | round | daily
    Column("keywords", Text, nullable=False, default="[]"),  # JSON: what triggered it
    Column("due_at", String(32), nullable=False),
    Column("status", String(20), nullable=False),  # pending | sent
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", String(32), nullable=False),
    Column("last_error", Text),
    Column("created_at", String(32), nullable=False),
    Column("sent_at", String(32)),
    UniqueConstraint("channel", "change_id"),
    UniqueConstraint("channel", "event_id"),
)
Index("ix_alerts_pending", alerts.c.status, alerts.c.next_attempt_at)

# URLs seen by degraded mode (schema 5): every post URL the RSS feed or the core
# sitemaps showed while the REST API was closed, so that only URLs that appear
# later are looked at as new.
fallback_seen = Table(
    "fallback_seen",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("url", Text, nullable=False),
    Column("url_sha256", String(64), nullable=False),  # unique key (URLs can be long)
    Column("first_seen", String(32), nullable=False),
    UniqueConstraint("site_id", "url_sha256"),
)

# -- working notes (schema 6): the review workspace's own tables ---------------------------------
# Kept apart from the evidence: nothing here is ever hashed into the chain, and the
# workspace may rewrite all of it except the audit log, which is only appended to.

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("role", String(20), nullable=False),  # viewer | reviewer | admin
    Column("password_hash", Text),  # argon2; NULL: token-only account
    Column("created_at", String(32), nullable=False),
    Column("last_looked_at", String(32)),  # the queue's "since I last looked"
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),  # never the token
    Column("created_at", String(32), nullable=False),
    Column("last_used_at", String(32)),
)

# One row per change that was triaged; no row means state "new" and no labels.
triage = Table(
    "triage",
    metadata,
    Column("change_id", Integer, ForeignKey("changes.id"), primary_key=True),
    Column("state", String(20), nullable=False),  # new | seen | important | dismissed
    Column("updated_at", String(32), nullable=False),
    Column("updated_by", String(200), nullable=False),
)
Index("ix_triage_state", triage.c.state, triage.c.change_id)

change_labels = Table(
    "change_labels",
    metadata,
    Column("change_id", Integer, ForeignKey("changes.id"), primary_key=True),
    Column("label", String(100), primary_key=True),
)
Index("ix_change_labels_label", change_labels.c.label, change_labels.c.change_id)

notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("change_id", Integer, ForeignKey("changes.id"), nullable=False),
    Column("author", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
)
Index("ix_notes_change", notes.c.change_id)

# Append-only: who did what, when (triage, labels, notes, accounts).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("change_id", Integer, ForeignKey("changes.id")),  # NULL for account actions
    Column("actor", String(200), nullable=False),
    Column("action", String(50), nullable=False),
    Column("detail", Text, nullable=False),  # JSON
    Column("at", String(32), nullable=False),
)
Index("ix_audit_log_change", audit_log.c.change_id, audit_log.c.id)

# What the queue filters, searches and sorts on, one row per change: the title, the text
# that changed (for search and keywords) and the priority score. Derived, rebuilt at will.
review_index = Table(
    "review_index",
    metadata,
    Column("change_id", Integer, ForeignKey("changes.id"), primary_key=True),
    Column("site_id", Integer, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("detected_at", String(32), nullable=False),
    Column("state", String(20), nullable=False, default="new"),  # triage.state, mirrored
    Column("search_text", Text, nullable=False),  # lower-cased title + changed text
    Column("priority", Integer, nullable=False),  # score × 100, to sort on integers
    Column("scored_with", String(64), nullable=False),  # hash of the scoring settings
)
# The queue's orders, and covering indexes for its per-filter counts (site, kind, state).
Index("ix_review_index_detected", review_index.c.detected_at, review_index.c.change_id)
Index("ix_review_index_priority", review_index.c.priority, review_index.c.change_id)
Index("ix_review_index_site", review_index.c.site_id, review_index.c.kind, review_index.c.state)
Index("ix_review_index_kind", review_index.c.kind, review_index.c.site_id, review_index.c.state)
Index("ix_review_index_state", review_index.c.state, review_index.c.site_id, review_index.c.kind)
Index("ix_review_index_scored", review_index.c.scored_with)
# The triage views ("new, by priority", "new, newest first") read in index order and stop at
# a page, whatever the planner's statistics say, instead of sorting ~all changes.
ix_review_index_state_priority = Index(
    "ix_review_index_state_priority", review_index.c.state, review_index.c.priority,
    review_index.c.change_id)
ix_review_index_state_detected = Index(
    "ix_review_index_state_detected", review_index.c.state, review_index.c.detected_at,
    review_index.c.change_id)

# Full-text search of review_index.search_text on SQLite: an FTS5 index with external
# content (the text is stored once, in review_index; rowid = change_id), filled where
# web/index.py indexes changes. Other engines search with LIKE (see web/queue.py).
REVIEW_FTS = "review_fts"
REVIEW_FTS_DDL = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {REVIEW_FTS} USING fts5(search_text, "
    "content='review_index', content_rowid='change_id', "
    "tokenize='unicode61 remove_diacritics 2')"
)
event.listen(review_index, "after_create", DDL(REVIEW_FTS_DDL).execute_if(dialect="sqlite"))

# Ignore rule sets (schema: ignore rules), by the hash each change records in
# ``changes.ruleset``: what the rules were when a change was scored.
rule_sets = Table(
    "rule_sets",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("rules", Text, nullable=False),  # JSON {"fields": [...], "selectors": [...], ...}
    Column("first_used", String(32), nullable=False),
)

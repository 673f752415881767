"""The review workspace (`wpwatch serve`): pages, JSON API, accounts, triage.

A view over the archive plus the working notes (archive.notes) that are kept apart from
the evidence. Needs the ``web`` extra: ``pip install 'wpwatch[web]'``.
"""

"""The bottom of the house: what every other package may rely on.

``exceptions`` (the one error tree), ``values`` (change kinds, time stamps,
durations, ``env:`` references, canonical JSON, site URLs), ``about`` (name,
version, User-Agent) and ``config`` (reading and editing wpwatch.toml). It
imports nothing of wpwatch's other packages.
"""

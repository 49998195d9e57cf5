"""Offline village packages (paket desa luring): a verification round's prelist of one village as one
SQLite file for a field app, and the visits, photos and new-household proposals it brings back.

``format`` describes the file and its digest, ``export`` writes a package, ``package`` opens and
checks one that came back, ``values`` reads the field app's JSON, ``importing`` records it.
``docs/offline.md`` is the field-app developer's version of these modules.
"""

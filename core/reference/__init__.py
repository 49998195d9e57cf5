"""Reference snapshots of other agencies' registries: Adminduk (civil registry), Dapodik (schools), BPJS (PBI).

``formats`` holds the file layouts (shared with ``siks demo reference``), ``readers`` streams CSV,
XLSX and Parquet files, ``loader`` checks and stores a file as a new snapshot, ``snapshots`` keeps
which snapshot of each source is active, ``queries`` reads them. See docs/reference-data.md.
"""

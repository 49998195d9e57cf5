"""SIKS-Dataku: the citizens' pages, rendered on the server at ``/dataku`` (docs/dataku.md).

Small modules: ``i18n`` (the gettext catalogs and the language of a request), ``csrf`` (signed form
tokens and the honeypot), ``cascade`` (province → regency → district → village, one GET step a
level), ``cekbansos`` (the form's checks and the look-up through ``core.public``), ``pages``
(templates and security headers) and ``routes`` (the thin handlers, mounted by ``core.http.app``).
"""

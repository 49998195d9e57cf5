"""The DCI Social Registry API (Digital Convergence Initiative): SIKS as a standards-conformant social registry.

Layers: ``envelope`` (the signed message envelope, ACK/ERR answers, callback headers), ``mapping``
(household -> Group, member -> Person), ``search`` (the three query types in SQL within the caller's
scope), ``transactions`` (accepted requests, async answers and their callbacks, txn status),
``subscriptions`` (subscribe / unsubscribe), ``routes`` (the HTTP endpoints), ``security``
(callers, signatures). See docs/dci.md.
"""

"""The DCI (Digital Convergence Initiative) Social Registry API: envelopes, search, subscriptions, security."""

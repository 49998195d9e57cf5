"""Welfare ranking: a Proxy Means Test baseline and a CatBoost model of log consumption per capita.

The path of a ranking, module by module: ``features`` (what a model sees of a household, read
set-based from the database or from a labelled CSV), ``labelled`` (the training table and its
held-out split), ``pmt`` and ``catboost_model`` (the two kinds of model), ``evaluate`` (how well a
model finds the poorest), ``training`` (fit, evaluate, register), ``registry`` (model files plus
their ``welfare_models`` rows, exactly one active), ``apply`` (score every household in batches and
store national and regency deciles), ``explain`` (why one household got its score).
"""

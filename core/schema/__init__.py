"""The GraphQL schema, assembled from per-concern modules (regions, households, mutations)."""

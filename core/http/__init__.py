"""HTTP conventions shared by every endpoint: CORS, request ids, JSON error bodies, GET and persisted
queries, caching headers and the self-hosted GraphiQL page (see the README, "Calling the API from a browser")."""

"""What a serving process does besides answering: first start, the request deadline, limits on
callers, database outages, garbage-collector pauses."""

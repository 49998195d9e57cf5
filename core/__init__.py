"""SIKS core: the registry of households, members and regions, and the API around it."""

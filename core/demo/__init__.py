"""The deterministic demo population (``siks demo``): a DTKS-like registry over the real villages."""

from core.demo.generator import DemoBatch, DemoGenerator
from core.demo.seeding import DemoResult, PopulationExists, reference_date, seed_demo
from core.demo.serials import SerialsExhausted
from core.demo.villages import NoVillages

__all__ = [
    "DemoBatch",
    "DemoGenerator",
    "DemoResult",
    "NoVillages",
    "PopulationExists",
    "SerialsExhausted",
    "reference_date",
    "seed_demo",
]

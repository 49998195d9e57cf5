"""Public provincial facts that shape the demo population.

Population (millions, BPS mid-2023 estimates, rounded), the share of people below the poverty line
(BPS, March 2023, percent; the six Papuan provinces as published after the 2022 split) and a
rough geographic centre used to scatter demo GPS points. Codes are Kemendagri province codes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

POVERTY_LINE = 550_000.0  # Rupiah per person per month, national line of March 2023
# Spread of log consumption per capita: between regencies, between villages of a regency,
# between households of a village.
REGENCY_SD = 0.15
VILLAGE_SD = 0.12
HOUSEHOLD_SD = 0.45
TOTAL_SD = math.sqrt(REGENCY_SD**2 + VILLAGE_SD**2 + HOUSEHOLD_SD**2)
URBAN_PREMIUM = 0.15  # kelurahan (urban villages) consume more than desa at equal province
DEFAULT_POPULATION = 1.0


@dataclass(frozen=True, slots=True)
class Province:
    population: float  # millions
    poverty_rate: float  # percent
    latitude: float
    longitude: float

    @property
    def mean_log_consumption(self) -> float:
        """Mean log consumption per capita that puts ``poverty_rate`` percent below the line."""
        return math.log(POVERTY_LINE) - TOTAL_SD * NormalDist().inv_cdf(self.poverty_rate / 100)


PROVINCES: dict[str, Province] = {
    "11": Province(5.48, 14.45, 4.4, 96.9),  # Aceh
    "12": Province(15.39, 8.15, 2.2, 99.1),  # Sumatera Utara
    "13": Province(5.76, 5.95, -0.7, 100.6),  # Sumatera Barat
    "14": Province(6.64, 6.68, 0.5, 101.6),  # Riau
    "15": Province(3.68, 7.58, -1.6, 103.0),  # Jambi
    "16": Province(8.74, 11.78, -3.3, 104.0),  # Sumatera Selatan
    "17": Province(2.09, 14.04, -3.6, 102.3),  # Bengkulu
    "18": Province(9.31, 11.11, -4.8, 105.0),  # Lampung
    "19": Province(1.49, 4.52, -2.3, 106.3),  # Kepulauan Bangka Belitung
    "21": Province(2.15, 5.69, 1.0, 104.2),  # Kepulauan Riau
    "31": Province(10.67, 4.44, -6.2, 106.85),  # DKI Jakarta
    "32": Province(49.86, 7.62, -6.9, 107.6),  # Jawa Barat
    "33": Province(37.54, 10.77, -7.2, 110.2),  # Jawa Tengah
    "34": Province(3.74, 11.04, -7.85, 110.4),  # DI Yogyakarta
    "35": Province(41.53, 10.35, -7.6, 112.4),  # Jawa Timur
    "36": Province(12.31, 6.17, -6.4, 106.1),  # Banten
    "51": Province(4.43, 4.25, -8.4, 115.2),  # Bali
    "52": Province(5.56, 13.85, -8.6, 117.4),  # Nusa Tenggara Barat
    "53": Province(5.57, 19.96, -9.3, 121.5),  # Nusa Tenggara Timur
    "61": Province(5.62, 6.71, 0.0, 111.0),  # Kalimantan Barat
    "62": Province(2.74, 5.11, -1.7, 113.4),  # Kalimantan Tengah
    "63": Province(4.22, 4.29, -3.0, 115.3),  # Kalimantan Selatan
    "64": Province(3.86, 6.11, 0.5, 116.4),  # Kalimantan Timur
    "65": Province(0.73, 6.45, 3.0, 116.4),  # Kalimantan Utara
    "71": Province(2.66, 7.38, 1.2, 124.8),  # Sulawesi Utara
    "72": Province(3.09, 12.41, -1.4, 121.4),  # Sulawesi Tengah
    "73": Province(9.36, 8.70, -4.0, 120.0),  # Sulawesi Selatan
    "74": Province(2.75, 11.43, -4.1, 122.2),  # Sulawesi Tenggara
    "75": Province(1.20, 15.15, 0.7, 122.4),  # Gorontalo
    "76": Province(1.46, 11.49, -2.5, 119.3),  # Sulawesi Barat
    "81": Province(1.88, 16.42, -3.2, 129.5),  # Maluku
    "82": Province(1.35, 6.46, 1.0, 127.8),  # Maluku Utara
    "91": Province(1.06, 17.26, -2.3, 139.0),  # Papua
    "92": Province(0.56, 20.49, -1.3, 133.5),  # Papua Barat
    "93": Province(0.53, 17.44, -7.0, 139.5),  # Papua Selatan
    "94": Province(1.47, 29.69, -3.6, 136.5),  # Papua Tengah
    "95": Province(1.45, 32.97, -4.1, 138.9),  # Papua Pegunungan
    "96": Province(0.60, 18.13, -1.0, 131.5),  # Papua Barat Daya
}
# A province missing from the table (a future split) gets national-average figures.
NATIONAL = Province(DEFAULT_POPULATION, 9.36, -2.5, 118.0)
SMALL_PROVINCES = frozenset({"31", "34"})  # scatter GPS points less widely


def province(code: str) -> Province:
    return PROVINCES.get(code, NATIONAL)


def national_mean_log_consumption() -> float:
    """Population-weighted mean of the provinces' mean log consumption (centre of the welfare scale)."""
    total = sum(p.population for p in PROVINCES.values())
    return sum(p.population * p.mean_log_consumption for p in PROVINCES.values()) / total

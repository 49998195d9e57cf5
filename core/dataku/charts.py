"""The charts of Rekap: Vega-Lite specifications written with Altair, drawn to SVG on the server by
vl-convert (no JavaScript reaches the browser).

Each chart draws the published numbers of a ``rekap.Rekap`` (withheld ones left out), with its title
and labels from the catalogs and its numbers in the language's format (Babel's decimal and group
symbols). The SVG carries a ``viewBox`` and no style attributes or scripts, so it scales with the
page's CSS and passes the pages' Content-Security-Policy; its ARIA marks are turned off because the
table beside each chart says the same numbers to screen readers.
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import altair as alt
import vl_convert
from babel.numbers import get_decimal_symbol, get_group_symbol
from starlette.concurrency import run_in_threadpool

from core.dataku.i18n import N_
from core.dataku.rekap import Rekap

WIDTH = 260  # of the plot, in SVG units; the page scales the whole chart to its column
ROW = 22  # a region's band
MILLION = 1_000_000
_ATTRIBUTE_VALUE = re.compile(rb'="[^"]*"')  # not text nodes: "20.000" is a number in Indonesian
_LONG_DECIMALS = re.compile(rb"(\d\.\d\d)\d+")
_DEFAULT_ATTRIBUTES = re.compile(rb' (?:opacity="1"|pointer-events="none"|aria-hidden="true")(?=[ />])')


class Figure(StrEnum):
    """The charts, by the last part of their address: ``/dataku/rekap/penerima.svg``."""

    RECIPIENTS = "penerima"
    RUPIAH = "rupiah"
    PROGRESS = "pemutakhiran"


TITLES = {
    Figure.RECIPIENTS: N_("Households receiving aid, by programme"),
    Figure.RUPIAH: N_("Aid paid, by programme (million Rupiah)"),
    Figure.PROGRESS: N_("Households visited in the verification round (%)"),
}


def number_locale(language: str) -> dict[str, Any]:
    """d3-format's locale for ``language``, from Babel's symbols (``1.234.567`` in Indonesian)."""
    return {
        "decimal": get_decimal_symbol(language),
        "thousands": get_group_symbol(language),
        "grouping": [3],
        "currency": ["Rp ", ""],
        "percent": "%",
    }


def _region_axis(names: list[str]) -> alt.Y:
    """Regions top down in code order, named on the axis (untitled: the title says what is drawn)."""
    return alt.Y("region:N", title=None, sort=names, axis=alt.Axis(labelLimit=150))


def _stacked(
    rekap: Rekap, value: Callable[[Any], float | None], axis: alt.Axis, axis_title: str, translate: Any
) -> alt.Chart:
    rows = [
        {"region": line.name, "programme": programme.label, "value": amount}
        for line in rekap.aid
        for programme in rekap.programmes
        if (amount := value(line.cells[programme.slug])) is not None
    ]
    names = [line.name for line in rekap.aid]
    return (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            y=_region_axis(names),
            x=alt.X("value:Q", title=axis_title, axis=axis),
            color=alt.Color(
                "programme:N",
                title=translate(N_("Programme")),
                sort=[p.label for p in rekap.programmes],
                legend=alt.Legend(orient="bottom", direction="horizontal", columns=5),
            ),
            order=alt.Order("programme:N"),
        )
        .properties(width=WIDTH, height={"step": ROW})
    )


def chart_spec(rekap: Rekap, figure: Figure, translations: gettext.NullTranslations) -> dict[str, Any]:
    """The Vega-Lite specification of ``figure`` in the language of ``translations``."""
    translate = translations.gettext
    if figure is Figure.RECIPIENTS:
        whole = alt.Axis(format=",~r", tickCount=4, tickMinStep=1)  # households: no 0.5 ticks
        chart = _stacked(rekap, lambda cell: cell.households, whole, translate(N_("Households")), translate)
    elif figure is Figure.RUPIAH:
        chart = _stacked(
            rekap,
            lambda cell: None if cell.rupiah is None else cell.rupiah / MILLION,
            alt.Axis(format=",~r", tickCount=4),
            translate(N_("Million Rupiah")),
            translate,
        )
    else:
        rows = [
            {"region": line.name, "value": share}
            for line in rekap.progress
            if (share := line.visited_share) is not None
        ]
        chart = (
            alt.Chart(alt.Data(values=rows))
            .mark_bar(color="#0b4f6c")
            .encode(
                y=_region_axis([line.name for line in rekap.progress]),
                x=alt.X(
                    "value:Q",
                    title=translate(N_("Visited")),
                    scale=alt.Scale(domain=[0, 1]),
                    axis=alt.Axis(format="~%", tickCount=5),
                ),
            )
            .properties(width=WIDTH, height={"step": ROW})
        )
    titled = chart.properties(title=alt.Title(translate(TITLES[figure]), anchor="start", fontSize=13))
    return titled.configure(aria=False, font="sans-serif").to_dict()


def draw_svg(spec: dict[str, Any], language: str) -> bytes:
    """The SVG of a Vega-Lite specification, numbers formatted for ``language`` (``compact``)."""
    return compact(vl_convert.vegalite_to_svg(spec, format_locale=number_locale(language)).encode())


def compact(svg: bytes) -> bytes:
    """Vega's SVG a quarter smaller, drawn the same: coordinates in attributes to 2 decimals
    (``1.1000000000000227`` is ``1.10``; texts are left alone), and the attributes that only restate a
    default (opacity 1; pointer events and ARIA, which an image does not have) left out. A national
    chart (38 provinces, 5 programmes) is then about 26 kB."""
    rounded = _ATTRIBUTE_VALUE.sub(lambda value: _LONG_DECIMALS.sub(rb"\1", value.group()), svg)
    return _DEFAULT_ATTRIBUTES.sub(b"", rounded)


async def draw(rekap: Rekap, figure: Figure, language: str, translations: gettext.NullTranslations) -> bytes:
    """``draw_svg`` off the event loop (vl-convert works for a few hundred milliseconds)."""
    return await run_in_threadpool(draw_svg, chart_spec(rekap, figure, translations), language)

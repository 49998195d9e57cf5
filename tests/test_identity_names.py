"""Indonesian name normalisation: every spelling of a name an agency may use gives one key."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.demo.names import FEMALE_GIVEN, FEMALE_SECOND, MALE_GIVEN, MALE_SECOND
from core.identity.names import normalise_name

SECOND = st.sampled_from(MALE_SECOND + FEMALE_SECOND)
GIVEN = st.sampled_from(MALE_GIVEN + FEMALE_GIVEN)


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("Muhammad Yusuf", "MUHAMMAD YUSUF"),
        ("Muhamad Yusuf", "MUHAMMAD YUSUF"),
        ("Mohammad Yusuf", "MUHAMMAD YUSUF"),
        ("Mohamad Yusuf", "MUHAMMAD YUSUF"),
        ("Mochammad Yusuf", "MUHAMMAD YUSUF"),
        ("Mukhamad Yusuf", "MUHAMMAD YUSUF"),
        ("Moch. Yusuf", "MUHAMMAD YUSUF"),
        ("Moh. Yusuf", "MUHAMMAD YUSUF"),
        ("M. Yusuf", "MUHAMMAD YUSUF"),
        ("M.Yusuf", "MUHAMMAD YUSUF"),
        ("St. Aminah", "SITI AMINAH"),
        ("siti   aminah", "SITI AMINAH"),
        ("Soeharto", "SUHARTO"),
        ("Djoko", "JOKO"),
        ("Tjahjo", "CAHJO"),
        ("Chairul", "KHAIRUL"),
        ("Njoman", "NYOMAN"),
        ("Sjarifuddin", "SYARIFUDIN"),
        ("Rinna Deddi", "RINA DEDI"),
        ("H. Ahmad Dahlan", "AHMAD DAHLAN"),
        ("Hj. Siti Aisyah", "SITI AISYAH"),
        ("Haji Ahmad", "AHMAD"),
        ("Drs. H. Mochammad Ali, M.Pd.", "MUHAMMAD ALI"),
        ("Budi Santoso, S.Pd.", "BUDI SANTOSO"),
        ("Budi Santoso, S. Pd", "BUDI SANTOSO"),
        ("Dewi Lestari, S.E., M.M.", "DEWI LESTARI"),
        ("Ir. Joko Widodo", "JOKO WIDODO"),
        ("Dr. Rina", "RINA"),
        ("Sutrisno", "SUTRISNO"),
        ("Budi M Santoso", "BUDI M SANTOSO"),  # an undotted M inside a name is an initial
        ("Ma Lin", "MA LIN"),  # a degree's letters without a dot are a name
        ("Nyoman D'Souza", "NYOMAN DSOUZA"),
        ("José Ángel", "JOSE ANGEL"),
        ("", ""),
        ("  .,  ", ""),
    ],
)
def test_spellings_of_a_name_share_one_key(written: str, key: str) -> None:
    assert normalise_name(written) == key


@given(GIVEN, SECOND)
def test_key_is_upper_ascii_single_spaced_and_stable(given_name: str, second: str) -> None:
    key = normalise_name(f"  {given_name}   {second} ")
    assert key == key.upper() and key.isascii() and "  " not in key and key == key.strip()
    assert normalise_name(key) == key


@given(SECOND, st.sampled_from(["Muhammad", "Muhamad", "Mohammad", "Moch.", "Moh.", "M.", "Mochammad", "Mukhamad"]))
def test_every_form_of_muhammad(second: str, form: str) -> None:
    assert normalise_name(f"{form} {second}") == normalise_name(f"Muhammad {second}")


@given(GIVEN, SECOND, st.sampled_from(["H.", "Hj.", "Drs.", "Dra.", "Ir.", "Dr."]))
def test_prefix_titles_are_dropped(given_name: str, second: str, title: str) -> None:
    assert normalise_name(f"{title} {given_name} {second}") == normalise_name(f"{given_name} {second}")


@given(GIVEN, SECOND, st.sampled_from(["S.Pd.", "S.E.", "S.H.", "S.Kom.", "M.Pd.", "A.Md.", "S.Ag."]))
def test_degrees_after_a_comma_are_dropped(given_name: str, second: str, degree: str) -> None:
    assert normalise_name(f"{given_name} {second}, {degree}") == normalise_name(f"{given_name} {second}")


@given(
    GIVEN, SECOND, st.sampled_from([("u", "oe"), ("j", "dj"), ("c", "tj"), ("kh", "ch"), ("ny", "nj"), ("sy", "sj")])
)
def test_old_spellings_give_the_modern_key(given_name: str, second: str, spelling: tuple[str, str]) -> None:
    modern, old = spelling
    name = f"{given_name} {second}"
    assert normalise_name(name.replace(modern, old)) == normalise_name(name)


@given(GIVEN, SECOND, st.data())
def test_a_doubled_letter_is_collapsed(given_name: str, second: str, data: st.DataObject) -> None:
    name = f"{given_name} {second}"
    at = data.draw(st.integers(0, len(name) - 1))
    if not name[at].isalpha():
        return
    assert normalise_name(name[: at + 1] + name[at] + name[at + 1 :]) == normalise_name(name)


def test_siti_and_its_abbreviation() -> None:
    assert normalise_name("St. Nurhaliza") == normalise_name("Siti Nurhaliza") == "SITI NURHALIZA"


def test_a_doubled_letter_before_an_old_spelling_is_collapsed_first() -> None:
    """Found by the properties above: ``Sanjjaya`` once became ``SANYJAYA`` (NJ → NY, then a J left over), and
    collapsing first made ``Samoeel`` (Samuel in the old spelling) ``SAMUL``."""
    assert normalise_name("Agus Sanjjaya") == normalise_name("Agus Sannjaya") == normalise_name("Agus Sanjaya")
    assert normalise_name("Samoeel Santoso") == normalise_name("Samuel Santoso")
    assert normalise_name("Micchael") == normalise_name("Michael") == normalise_name("Mikhael")
    assert normalise_name("Soeddjono") == normalise_name("Sudjono") == normalise_name("Sujono")

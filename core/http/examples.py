"""What GraphiQL opens with: a login hint and example documents that work on the demo data (``siks serve``)."""

from __future__ import annotations

MAIN_HINT = (
    "Log in first: run the login mutation below (development user admin / admin-password), copy accessToken "
    'into the Headers pane as {"Authorization": "Bearer <accessToken>"}; tokens last SIKS_ACCESS_TOKEN_MINUTES.'
)
MAIN_HEADERS = '{"Authorization": "Bearer <paste accessToken here>"}'
MAIN_EXAMPLES: tuple[tuple[str, str], ...] = (
    (
        "1. Log in (development admin user), then put the accessToken into Headers",
        'mutation Login {\n  login(username: "admin", password: "admin-password") {\n'
        "    ... on Tokens { accessToken refreshToken }\n    ... on LoginFailed { message }\n  }\n}",
    ),
    (
        "2. Who am I, and how many households are there",
        "query Me {\n  me { username role scope }\n  households(first: 3) { totalCount }\n}",
    ),
    (
        "3. The demo village Cidokom (32.01.11.2001) in Kabupaten Bogor",
        'query Cidokom {\n  region(code: "32.01.11.2001") { code name level }\n}',
    ),
)

PUBLIC_HINT = "The public endpoint needs no login: Cek Bansos by village and full name, and recaps by region."
PUBLIC_EXAMPLES: tuple[tuple[str, str], ...] = (
    (
        "Recap of Kabupaten Bogor (32.01)",
        'query Recap {\n  recap(regionCode: "32.01") {\n'
        "    regionName households verifiedHouseholds suppressed countsRoundedTo\n  }\n}",
    ),
    (
        "Cek Bansos: is this name a recipient in the demo village Cidokom",
        'query Cek {\n  cekBansos(villageCode: "32.01.11.2001", fullName: "Siti Rosida") {\n'
        "    found people { maskedName aid { program period } }\n  }\n}",
    ),
)

"""The public side of SIKS, served without login at ``/public/graphql``: Cek Bansos and regional recaps.

Nothing here reads more than a masked name, the programs a household received and aggregates;
every request is rate-limited per client address (``core.runtime.ratelimit``) and carries one look-up.
"""

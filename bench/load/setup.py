"""Accounts and batches for the load test (bench/load/run.py), on a database made by `bench/scale.py
generate`: one password for 200 of its cadres, 10 village and 10 township officials and 5 city
users (set-based: one hash, one UPDATE, one bulk INSERT), and a tranche-1 batch for each of the
first township's villages, prepared and submitted by one of its cadres through the real services,
for the officials to take through 入户核实 and 乡镇复核汇总. Prints the accounts as JSON for the locustfile.

    DATABASE_URL=postgres://…/h14l_load DJANGO_SETTINGS_MODULE=config.settings.local \\
        .venv/bin/python bench/load/setup.py --password … > bench/out/load-accounts.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CADRES, VILLAGE_OFFICIALS, TOWNSHIP_OFFICIALS, CITY_USERS = 200, 10, 10, 5


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.core.exceptions import ValidationError
    from django.db import transaction

    from disbursements.approval import advance
    from households.models import Role, Township, User, Village
    from subsidies.money.batches import batch_prepare

    hashed = make_password(args.password)
    township = Township.objects.filter(code__startswith="S").order_by("code").first()
    assert township is not None, "generate the database with bench/scale.py first"
    villages = list(Village.objects.filter(township=township).order_by("code")[:VILLAGE_OFFICIALS])
    cadres = list(
        User.objects.filter(role=Role.CADRE, username__startswith="bc")
        .order_by("id")
        .values_list("username", flat=True)[:CADRES]
    )
    assert len(cadres) == CADRES, f"{len(cadres)} cadres: generate at least 1,500 households"
    with transaction.atomic():
        # Every role works in the admin (User.save sets is_staff); the generator inserted them bare.
        User.objects.filter(username__in=cadres).update(password=hashed, is_staff=True)
        officials = [
            User(
                username=f"load_v{i}",
                name=f"村干部{i}",
                role=Role.VILLAGE,
                township=township,
                village=v,
                is_staff=True,
                password=hashed,
            )
            for i, v in enumerate(villages)
        ]
        officials += [
            User(
                username=f"load_t{i}",
                name=f"乡镇干部{i}",
                role=Role.TOWNSHIP,
                township=township,
                is_staff=True,
                password=hashed,
            )
            for i in range(TOWNSHIP_OFFICIALS)
        ]
        officials += [
            User(username=f"load_c{i}", name=f"市指挥部{i}", role=Role.CITY, is_staff=True, password=hashed)
            for i in range(CITY_USERS)
        ]
        User.objects.bulk_create(
            officials, update_conflicts=True, unique_fields=["username"], update_fields=["password"]
        )
    # Each village's batch is prepared and submitted by one of its cadres, so that the officials
    # can take the next steps: the actor of a step may not take the one after it (four eyes).
    batches = 0
    for village in villages:
        cadre = (
            User.objects.filter(role=Role.CADRE, village=village, username__in=cadres).order_by("id").first()
        )
        if cadre is None:
            continue
        try:
            batch = batch_prepare(village=village, year=2017, tranche=1, actor=cadre)
        except ValidationError:  # a second run: the cadre's households are in a batch already
            continue
        advance([batch], action="submit", actor=cadre, note="")
        batches += 1
    print(f"accounts ready; {batches} tranche-1 batches prepared", file=sys.stderr)
    print(
        json.dumps(
            {
                "cadres": cadres,
                "village": [f"load_v{i}" for i in range(len(villages))],
                "township": [f"load_t{i}" for i in range(TOWNSHIP_OFFICIALS)],
                "city": [f"load_c{i}" for i in range(CITY_USERS)],
                "township_id": township.pk,
            }
        )
    )


if __name__ == "__main__":
    main()

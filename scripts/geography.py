"""The agent engine's starting geography, from sources dated before the start (Dec 2006).

Run from the repository root:

    python scripts/geography.py          # writes the four files below
    python scripts/geography.py --check  # exit 1 if a written file differs

Inputs (nothing dated after 2006 chooses a weight):

- `facts/mexico_group_presence_2006.csv`: where each group of the `mexico-2006-2012` scenario
  operated before the start, one row per group and state, each with its source and the
  source's date (all before 2007): `level` 2 where the source says the group is based in the
  state (its hub), 1 where it names the state as one the group operates in; `part` says, for
  Chihuahua, whether the group is in Ciudad Juarez (`juarez`), in the rest of the state
  (`rest`) or both (empty).
- `inegi/state_month_2000_2007.csv`: INEGI homicides by state and month (Gargiulo, Aburto &
  Floridi, OSF doi:10.17605/OSF.IO/U8DC3), of which only the years 2000-2006 are read.
- `facts/mexico_states.csv`: the 32 states (2020 census population, neighbours, crossings).

The rule: a group's members in state r are proportional to

    weight(g, r) = level(g, r) x H(r)

with H(r) the state's homicides 2000-2006 (the pre-war violence geography), or, where the
state had none, its population / 100,000. For a group in one part of Chihuahua, H is the
state's homicides times that part's share of the state's population (2020 census; no
municipal homicide counts are used).

Outputs:

- `facts/mexico_state_territories.csv`: the weights for the 32 states (`--regions states`);
- `facts/mexico_regions_juarez.csv`: the 32 states with Chihuahua split into Ciudad Juarez
  (id 33: the municipality of Juarez) and the rest of Chihuahua (id 8), `--regions
  states-juarez`;
- `facts/mexico_regions_juarez_territories.csv`: the weights for that table;
- `facts/mexico_regions_juarez_deployments.csv`: the regional deployments for that table
  (mexico_state_deployments.csv with Chihuahua's rows assigned to its two parts, each
  assignment stated in the row).
"""

from __future__ import annotations

import csv
import io
import sys
from collections import Counter
from pathlib import Path

FACTS = Path("src/cartelsim/data/facts")
INEGI = Path("src/cartelsim/data/inegi/state_month_2000_2007.csv")
PRESENCE = FACTS / "mexico_group_presence_2006.csv"
STATES = FACTS / "mexico_states.csv"
DEPLOYMENTS = FACTS / "mexico_state_deployments.csv"
OUT_STATES = FACTS / "mexico_state_territories.csv"
OUT_JUAREZ = FACTS / "mexico_regions_juarez.csv"
OUT_JUAREZ_TERRITORIES = FACTS / "mexico_regions_juarez_territories.csv"
OUT_JUAREZ_DEPLOYMENTS = FACTS / "mexico_regions_juarez_deployments.csv"

#: Years of the pre-war violence geography (the war's start is December 2006).
YEARS = range(2000, 2007)
CHIHUAHUA, JUAREZ = 8, 33
JUAREZ_POPULATION = 1_512_450
JUAREZ_SOURCE = (
    "population: INEGI, Censo de Poblacion y Vivienda 2020, municipality of Juarez: 1,512,450 "
    "(El Diario de Chihuahua 2021-01-26, https://diario.mx/estado/hay-casi-4-millones-de-"
    "chihuahuenses-20210126-1755916.html; netnoticias.mx: 40.41 % of the state); neighbours: "
    "the municipality borders only other municipalities of Chihuahua (Ascension, Guadalupe, "
    "Ahumada) and the United States; crossings: Ciudad Juarez (El Paso); grid: the free "
    "square north of Chihuahua"
)
REST_SOURCE = (
    "population: INEGI, Censo de Poblacion y Vivienda 2020: the state (3,741,869, as in "
    "mexico_states.csv) less the municipality of Juarez (1,512,450); neighbours: the state's, "
    "and Ciudad Juarez; crossings: Ojinaga, Puerto Palomas (mexico_states.csv lists Ciudad "
    "Juarez (El Paso), Ojinaga, Puerto Palomas for the state); grid: the state's square"
)


def _read(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))


def homicides_before_war(path: Path = INEGI) -> dict[int, float]:
    """{INEGI state code: homicides 2000-2006}; later rows of the file are skipped unread."""
    total: Counter = Counter()
    for row in _read(path):
        if int(row["year"]) not in YEARS or row["homicides"] in ("", "NA"):
            continue
        total[int(row["state_code"])] += float(row["homicides"])
    return dict(total)


def juarez_share(states: list[dict[str, str]]) -> float:
    """Ciudad Juarez's share of Chihuahua's population (2020 census)."""
    chihuahua = next(r for r in states if int(r["id"]) == CHIHUAHUA)
    return JUAREZ_POPULATION / float(chihuahua["population"])


def weights(presence, homicides, states) -> list[dict]:
    """Rows (group, region, weight, level, homicides, date, source, status) for the states
    and, with `region` and `juarez_region`, for the Juarez table."""
    population = {int(r["id"]): float(r["population"]) for r in states}
    share = juarez_share(states)
    rows = []
    for p in presence:
        state, part, level = int(p["region"]), p["part"], float(p["level"])
        h = homicides.get(state, 0.0) or population[state] / 1e5
        basis = "homicides 2000-2006" if homicides.get(state) else "population / 100,000"
        if state == CHIHUAHUA and part:
            fraction = share if part == "juarez" else 1 - share
            h *= fraction
            basis += f" x {fraction:.4f} ({'Ciudad Juarez' if part == 'juarez' else 'rest'})"
        elif part:
            raise ValueError(f"{PRESENCE}: part {part!r} only for Chihuahua")
        rows.append(
            {
                "group": p["group"],
                "state": state,
                "part": part,
                "level": level,
                "h": h,
                "weight": round(level * h, 1),
                "basis": basis,
                "date": p["date"],
                "source": p["source"],
                "status": p["status"],
            }
        )
    return rows


def territory_table(rows: list[dict], juarez: bool, share: float = 0.0) -> str:
    """The territory file: the states', or with `juarez` the Juarez table's (`share`:
    Ciudad Juarez's share of Chihuahua's population, for a group in both parts)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["group", "region", "weight", "level", "basis", "date", "source", "status"])
    for r in rows:
        regions = [r["state"]]
        if juarez and r["state"] == CHIHUAHUA:
            regions = {"juarez": [JUAREZ], "rest": [CHIHUAHUA], "": [JUAREZ, CHIHUAHUA]}[r["part"]]
        for region in regions:
            weight = r["weight"]
            if juarez and r["state"] == CHIHUAHUA and not r["part"]:  # both parts, by population
                weight = round(weight * (share if region == JUAREZ else 1 - share), 1)
            writer.writerow(
                [r["group"], region, f"{weight:g}", f"{r['level']:g}",
                 f"level x H; H = {r['basis']} = {r['h']:g}", r["date"],
                 r["source"], f"{r['status']}; RULE (weight = level x H, scripts/geography.py)"]
            )  # fmt: skip
    return out.getvalue()


def juarez_regions(states: list[dict[str, str]]) -> str:
    """The region table with Chihuahua split (ids as the states', Ciudad Juarez 33)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = list(states[0])
    writer.writerow(columns)
    for r in states:
        row = dict(r)
        if int(r["id"]) == CHIHUAHUA:
            row["name"] = "Chihuahua (rest)"
            row["population"] = str(int(float(r["population"])) - JUAREZ_POPULATION)
            row["neighbours"] = f"{r['neighbours']} {JUAREZ}"
            row["crossings"] = str(int(r["crossings"]) - 1)
            row["source"] = REST_SOURCE
        writer.writerow([row[c] for c in columns])
    chihuahua = next(r for r in states if int(r["id"]) == CHIHUAHUA)
    juarez = {
        "id": str(JUAREZ), "abbr": "CJS", "name": "Ciudad Juárez",
        "population": str(JUAREZ_POPULATION), "neighbours": str(CHIHUAHUA), "crossings": "1",
        "grid_row": str(int(chihuahua["grid_row"]) - 1), "grid_col": chihuahua["grid_col"],
        "source": JUAREZ_SOURCE,
    }  # fmt: skip
    writer.writerow([juarez[c] for c in columns])
    return out.getvalue()


#: Chihuahua's deployment rows in the Juarez table: date -> [(region, troops, federal
#: police, note)]. The Sierra Madre share stays in the rest of the state; Operativo Conjunto
#: Chihuahua's new 2,026 soldiers and the 2009 surge go to Ciudad Juarez.
JUAREZ_DEPLOYMENTS = {
    "2007-01-01": [(CHIHUAHUA, 3018, 0, "the Sierra Madre share: rest of Chihuahua")],
    "2008-03-28": [
        (CHIHUAHUA, 3018, 0, "the Sierra Madre share stays in the rest of Chihuahua"),
        (JUAREZ, 2026, 0, "the operation's 2,026 soldiers assigned to Ciudad Juarez"),
    ],
    "2009-03-17": [
        (CHIHUAHUA, 3018, 0, "the Sierra Madre share stays in the rest of Chihuahua"),
        (JUAREZ, 8500, 2300, "the surge was to Ciudad Juarez"),
    ],
}


def juarez_deployments(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = list(rows[0])
    writer.writerow(columns)
    for r in rows:
        if int(r["region"]) != CHIHUAHUA:
            writer.writerow([r[c] for c in columns])
            continue
        for region, troops, police, note in JUAREZ_DEPLOYMENTS[r["date"]]:
            row = dict(r, region=str(region), troops=str(troops), federal_police=str(police))
            row["source"] = f"{r['source']}; in the Juarez table: {note} (scripts/geography.py)"
            row["status"] = f"{r['status']}; ASSUMPTION (split between Juarez and the rest)"
            writer.writerow([row[c] for c in columns])
    return out.getvalue()


def outputs(root: Path = Path(".")) -> dict[Path, str]:
    """{path: text} of the four generated files."""
    states = _read(root / STATES)
    share = juarez_share(states)
    rows = weights(_read(root / PRESENCE), homicides_before_war(root / INEGI), states)
    return {
        OUT_STATES: territory_table(rows, juarez=False),
        OUT_JUAREZ: juarez_regions(states),
        OUT_JUAREZ_TERRITORIES: territory_table(rows, juarez=True, share=share),
        OUT_JUAREZ_DEPLOYMENTS: juarez_deployments(_read(root / DEPLOYMENTS)),
    }


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for path, text in outputs().items():
        if check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print("out of date (run python scripts/geography.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

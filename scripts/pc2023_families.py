"""Map the 150 PC2023 groups (BACRIM2020_Nodes.csv) to the families of the `mexico` scenario.

Run from the repository root:

    python scripts/pc2023_families.py [PC2023_FOLDER]

PC2023_FOLDER defaults to the packaged copy src/cartelsim/data/pc2023 (byte-identical to the
authors' deposit, Zenodo record 8190491; ../shared/data/prieto-curiel-2023 gives the same CSV).

Writes src/cartelsim/data/facts/pc2023_group_families.csv, one row per node:

1. `name`: the group's name says it is the family or one of its cells/wings (NAME_RULES below,
   each with its source when the name alone does not say so);
2. `ally`: the family of its strongest already-mapped ally in BACRIM2020_Alliances.csv (ties
   broken by the ally's larger total alliance weight, then by the ally's name); repeated in
   rounds, each round using only the mapping made before it, until nothing changes;
3. `local`: neither (family LOCAL).
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path

OUT = Path("src/cartelsim/data/facts/pc2023_group_families.csv")
DEFAULT_FOLDER = Path("src/cartelsim/data/pc2023")

PC2023 = "Prieto-Curiel, Campedelli & Hope 2023 (Science 381:1312), BACRIM2020_Alliances.csv"

# Group name (exactly as in BACRIM2020_Nodes.csv) -> (family, source). An empty source means
# the name itself says the family.
NAME_RULES: dict[str, tuple[str, str]] = {
    "Cártel de Sinaloa": ("SIN", ""),
    "Gente Nueva": (
        "SIN",
        "Sinaloa cartel's armed wing, per the PGR (Vanguardia via Borderland Beat, "
        "https://hush-hush.press/2019/04/17/armed-wing-of-cds-5000-strong/)",
    ),
    "Mando Sur Gente Nueva": (
        "SIN",
        "a Gente Nueva command; Gente Nueva is Sinaloa's armed wing per the PGR "
        "(https://hush-hush.press/2019/04/17/armed-wing-of-cds-5000-strong/)",
    ),
    "Los Ántrax": (
        "SIN",
        "armed wing of Ismael Zambada's Sinaloa cartel "
        "(https://www.razon.com.mx/opinion/2016/11/02/los-antrax-y-morir-a-los-20)",
    ),
    "Los Chapitos": (
        "SIN",
        "the sons of Joaquin Guzman leading a Sinaloa cartel faction "
        "(https://macronews.mx/informacion/nacional/division-interna-en-el-cartel-de-sinaloa-"
        "se-acentua-tras-detencion-de-ismael-zambada-y-joaquin-guzman-aumentando-la-"
        "incertidumbre-sobre-su-futuro)",
    ),
    "Cártel del Golfo": ("GOL", ""),
    "Cártel del Golfo Nueva Era": ("GOL", ""),
    "Los Metros": (
        "GOL",
        "one of the Gulf cartel's armed factions, assigned to Matamoros "
        "(https://es.insightcrime.org/noticias-crimen-organizado-mexico/x20/)",
    ),
    "Cártel de Juárez": ("JUA", ""),
    "Nuevo Cártel de Juárez": ("JUA", ""),
    "La Línea": (
        "JUA",
        "the Juarez cartel's enforcer wing, later its main faction "
        "(https://en.wikipedia.org/wiki/La_L%C3%ADnea_(gang))",
    ),
    "Cártel de Los Arellano Félix": ("TIJ", ""),
    "Cártel de los Beltrán Leyva": ("BLO", ""),
    "Los Zetas": ("ZET", ""),
    "Zetas Vieja Escuela": ("ZET", ""),
    "Sangre Nueva Zeta": ("ZET", ""),
    "Cártel Jalisco Nueva Generación (CJNG)": ("CJNG", ""),
    "CJNG Comando la Mancha": ("CJNG", ""),
    "Grupo Élite del CJNG": ("CJNG", ""),
    "Cártel Tijuana Nueva Generación": (
        "CJNG",
        "the CJNG's Tijuana branch, formed with Arellano Felix remnants in 2015 "
        "(https://solo-opiniones.com/el-cartel-de-jalisco-nuevo-generacion-quiere-dominar-la-frontera"
        ", citing VICE News / Animal Politico)",
    ),
    "Caballeros Templarios": ("KT", ""),
    "La Nueva Familia Michoacana": (
        "LFM",
        "La Familia Michoacana reconfigured under the Hurtado Olascoaga brothers "
        "(https://www.sinembargo.mx/07-04-2023/4345636)",
    ),
    "Cártel del Noreste": ("CDN", ""),
    "Tropa del Infierno": (
        "CDN",
        "the Cartel del Noreste's armed wing "
        "(https://infobae.com/america/mexico/2022/04/05/quien-es-el-juanito-el-nuevo-lider-del-cartel-del-noreste)",
    ),
    "Guerreros Unidos": ("GU", ""),
    "Los Rojos": ("ROJ", ""),
    "Cárteles Unidos": ("CU", ""),
    "Cártel de Santa Rosa de Lima": ("CSRL", ""),
}


# Families that split off after 2012 -> the family they came from, which is the one a group
# of theirs is seated in when the `mexico` scenario's families become PC2023's groups at
# 2012-01-01 (plan.Fragmentation); their own code stays in the `faction` column. Sources:
# the split events of mexico-after-2012.fragment.toml.in.
PARENT_IN_2012 = {
    "CDN": "ZET",  # Cartel del Noreste split from Los Zetas, 2015 (Proceso, Mar 2016)
    "GU": "BLO",  # Guerreros Unidos: Beltran-Leyva splinter (BBC Mundo 2014-07-02)
    "ROJ": "BLO",  # Los Rojos: Beltran-Leyva splinter (lasillarota.com, FGR document)
    "CU": "KT",  # Carteles Unidos, with Knights Templar remnants (infobae.com 2021-12-16)
    "CSRL": "LOCAL",  # Santa Rosa de Lima: a local Guanajuato group (alertajalisco.com)
}


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def families(folder: Path) -> list[dict[str, str]]:
    nodes = read(folder / "BACRIM2020_Nodes.csv")
    names = {n["Node"]: n["Group"].strip() for n in nodes}
    unknown = set(NAME_RULES) - set(names.values())
    if unknown:
        raise SystemExit(f"NAME_RULES names not in the nodes file: {sorted(unknown)}")
    # Undirected alliance weights (the file lists most ties in both directions; keep the max).
    ally: dict[str, dict[str, float]] = defaultdict(dict)
    for row in read(folder / "BACRIM2020_Alliances.csv"):
        a, b, w = row["Node"], row["RNode"], float(row["weight"])
        for x, y in ((a, b), (b, a)):
            ally[x][y] = max(w, ally[x].get(y, 0.0))
    total = {n: sum(ally[n].values()) for n in names}

    family: dict[str, str] = {}
    rule: dict[str, str] = {}
    source: dict[str, str] = {}
    for node, group in names.items():
        if group in NAME_RULES:
            family[node], src = NAME_RULES[group]
            rule[node] = "name"
            source[node] = src or "the group's name"
    rounds = 0
    while True:
        rounds += 1
        new: dict[str, tuple[str, str]] = {}
        for node in names:
            if node in family:
                continue
            mapped = [m for m in ally[node] if m in family]
            if not mapped:
                continue
            best = min(mapped, key=lambda m: (-ally[node][m], -total[m], names[m]))
            new[node] = (
                family[best],
                f"strongest mapped ally {names[best]} ({best}, weight "
                f"{ally[node][best]:g}, round {rounds}); {PC2023}",
            )
        if not new:
            break
        for node, (fam, src) in new.items():
            family[node], rule[node], source[node] = fam, "ally", src
    rows = []
    for node, group in names.items():
        short = next(n["ShortName"].strip() for n in nodes if n["Node"] == node)
        faction = family.get(node, "LOCAL")
        rows.append(
            {
                "node": node,
                "group": group,
                "short_name": short,
                "family": PARENT_IN_2012.get(faction, faction),
                "faction": faction,
                "rule": rule.get(node, "local"),
                "source": source.get(node, "no name rule and no mapped ally in " + PC2023),
            }
        )
    return rows


def main(argv: list[str]) -> None:
    folder = Path(argv[1]) if len(argv) > 1 else DEFAULT_FOLDER
    rows = families(folder)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        counts[r["family"]] += 1
    print(f"wrote {OUT} ({len(rows)} groups)")
    for fam, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {fam}: {n}")


if __name__ == "__main__":
    main(sys.argv)

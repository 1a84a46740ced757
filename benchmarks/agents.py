"""Agent-engine benchmark (DESIGN.md section 7, issue 4 item 8).

    python benchmarks/agents.py [--agents N] [--days D] [--skip-full] [--json]

(a) The 1:1 `mexico-2006-2012` run (every member, soldier, police officer and official an
    agent, daily, Dec 2006 to Dec 2012) in a fresh child process: wall time of the engine
    (Numba compilation included, cached after the first run: both are reported) and the
    child's peak resident memory. Targets: <= 60 s and <= 2 GB on the 2-core machine.
    Also agent-days per second of engine time (wall and CPU): the agents alive each day
    (members free at each week's start, times 7, plus every soldier, police officer and
    official) summed over the run's days, over the engine's time; beside it Covasim's
    published "roughly 5-10 million person-days per second" on one core (Covasim FAQ,
    InstituteforDiseaseModeling/covasim v3.0.2, FAQ.rst; Kerr et al. 2021, PLoS Comput.
    Biol. 17(7):e1009149). The comparison is loose: Covasim steps every person every day,
    while cartelsim's resolution visits only the members with an event (most state people
    are only targets of bribes and deaths), so agent-days are a measure of the population
    simulated, not of the work per agent.
(b) The same daily rules written with Mesa 3.3.1 (one Python object per member, the model's
    `agents.shuffle_do("step")`) against cartelsim's agent engine, in this process, at
    --agents members (10,000) for --days days (364 = 52 model weeks) on the 32 states:
    recruitment (Poisson per group and state), movement along borders towards border
    crossings, clashes between groups and with the state, raids and arrests, saturation
    exits. Both use the same per-cell formulas (cartelsim's own mechanism functions compute
    the day's cell hazards for the Mesa model too, so the comparison is of the per-agent work
    and the bookkeeping, which is what the frameworks do differently). Corruption, leader
    captures, releases, decided truces and the economy are switched off in cartelsim for this
    comparison, as the Mesa model does not have them (and so are the officials and local
    police, who would only be targets of bribes). Target: cartelsim >= 100x Mesa. The final
    member counts of both are printed as a check that they ran the same model (they are
    single stochastic runs; they should agree within a few per cent). Part of cartelsim's
    lead is algorithmic: its resolution visits only the members who have an event that day
    (thinning, agents/resolve.py), where the Mesa idiom steps every agent object.

Timings are wall-clock, best of --repeat for cartelsim (Mesa once: it is slow); the JIT is
warmed up before timing (b). Without Mesa installed, (b) is skipped (and says so). (a) runs
against any cartelsim tree on PYTHONPATH, older ones included (entry points in agents/sim.py).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time

import numpy as np

try:
    import mesa
except ImportError:  # (b) needs it; (a) does not
    mesa = None

TARGET_SECONDS, TARGET_GB, TARGET_RATIO = 60.0, 2.0, 100.0

FULL_RUN = """
import json, time
t0 = time.perf_counter()
import cartelsim
try:
    from cartelsim.agents.engine import simulate_agents
except ImportError:  # trees before agents/engine.py
    from cartelsim.agents.sim import simulate_agents
t1, c1 = time.perf_counter(), time.process_time()
out = simulate_agents(cartelsim.load_scenario("mexico-2006-2012"), runs=1, seed=0, scale=1.0)
t2, c2 = time.perf_counter(), time.process_time()
weeks = out.traj.members.shape[0] - 1
member_days = float(out.traj.members[:-1].sum()) * 7
state_days = float(out.start.get("state_forces_start", 0) + out.start.get("officials_start", 0))
state_days *= weeks * 7
print(json.dumps({"import_s": t1 - t0, "engine_s": t2 - t1, "engine_cpu_s": c2 - c1,
                  "agents": out.start, "members_end": float(out.traj.members[-1].sum()),
                  "days": weeks * 7, "member_days": member_days,
                  "agent_days": member_days + state_days}))
"""
#: Covasim FAQ (v3.0.2): "can simulate roughly 5-10 million person-days per second".
COVASIM_PERSON_DAYS_PER_S = (5e6, 10e6)


def full_run() -> dict:
    """(a): the 1:1 run in a child process; its peak memory from getrusage."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-c", FULL_RUN], capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = json.loads(child.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = wall
    result["peak_rss_gb"] = max(peak_kb, before) / 1024**2
    return result


# --- (b) the Mesa version of the same rules --------------------------------------------------

#: cartelsim settings matching the Mesa model: no corruption, captures, releases, economy.
SAME_RULES = {
    "parameters": {
        "initial_payroll_share": 0,
        "truce_rate": 0,
        "bribe_offer_rate": 0,
        "leader_capture": 0,
        "sentence_days": 0,
        "business_closure": 0,
        "retaliation_probability": 0,
        "forces_killed_per_state_kill": 0,
        "revenue_elasticity": 0,
        "officials_per_100k": 0,  # no corruption: officials and local police do nothing
        "local_police_per_100k": 0,
    },
    "regional_deployments": [],
    "territories": [],
}


def bench_scenario(members: int, days: int):
    from cartelsim.agents.world import DAYS_PER_WEEK
    from cartelsim.scenario import validate

    weeks = max(days // DAYS_PER_WEEK, 1)
    shares = (0.5, 0.3, 0.2)
    document = {
        "name": "bench",
        "description": "three rival groups on the states map, for the Mesa comparison",
        "simulation": {"start": "2010-01-01", "weeks": weeks},
        "parameters": {
            "recruitment_rate": 0.006,
            "incapacitation_form": "per_member",
            "incapacitation": 0.0,
            "conflict_lethality": 1e-7,
            "saturation": 1e-7,
            "state_arrest_rate": 0.0008,
            "state_kill_rate": 0.0002,
        },
        "groups": [
            {"name": f"group {k}", "short": f"G{k}", "initial_members": members * s}
            for k, s in enumerate(shares)
        ],
        "network": {
            "rivalries": [
                {"groups": ["G0", "G1"], "weight": 5},
                {"groups": ["G1", "G2"], "weight": 3},
            ]
        },
        "deployments": [{"date": "2010-01-01", "troops": 40000, "federal_police": 10000}],
        "observation": {"cartel_share": 0.2},
        "agents": SAME_RULES,
    }
    return validate(document, "bench.toml")


def mesa_model(scenario, seed: int):
    """The Mesa model of the same day (its classes are defined here: Mesa is optional)."""
    from cartelsim.agents import resolve, schedule
    from cartelsim.agents.engine import settings_of
    from cartelsim.agents.mechanisms import clashes, movement, raids
    from cartelsim.agents.regions import load_regions
    from cartelsim.agents.sim import build
    from cartelsim.agents.world import DAYS_PER_WEEK
    from cartelsim.plan import make_plan
    from cartelsim.scenario import RECRUITMENT_RATE, SATURATION

    class Member(mesa.Agent):
        """One armed member: a group, a region; each day it may die, be arrested, leave or
        move."""

        def __init__(self, model, group: int, region: int):
            super().__init__(model)
            self.group, self.region = group, region

        def step(self) -> None:
            m = self.model
            g, r = self.group, self.region
            u = self.random.random()
            p = m.probability[g, r]
            if u < p:
                x = u / p
                cause = 0
                while cause < 3 and x >= m.shares[cause, g, r]:
                    cause += 1
                m.exits[cause] += 1
                self.remove()
                return
            u = (u - p) / (1.0 - p)
            q = m.move_probability[g, r]
            lo, hi = m.indptr[r], m.indptr[r + 1]
            if u < q and hi > lo:
                x = u / q
                k = lo
                while k < hi - 1 and x >= m.move_cdf[g, k]:
                    k += 1
                self.region = m.indices[k]

    class MesaModel(mesa.Model):
        """The same day as cartelsim's agent engine, one Python object per member. The cell
        hazards come from a cartelsim World used only as a calculator of the formulas."""

        def __init__(self, scenario, seed: int):
            super().__init__(seed=seed)
            settings = settings_of(scenario, None, None)
            self.world = build(make_plan(scenario), settings, load_regions("states"), seed)
            w = self.world
            self.indptr, self.indices = w.regions.indptr, w.regions.indices
            groups, regions = np.nonzero(w.cells)
            for g, r in zip(groups, regions, strict=True):
                for _ in range(w.cells[g, r]):
                    Member(self, int(g), int(r))
            self.exits = np.zeros(4, dtype=np.int64)
            self.np_rng = np.random.default_rng(seed)
            self.day = 0

        def step(self) -> None:
            w = self.world
            cells = np.zeros_like(w.cells)
            for agent in self.agents:
                cells[agent.group, agent.region] += 1
            w.cells[:] = cells
            if self.day % DAYS_PER_WEEK == 0 and self.day > 0:
                schedule.step(w, self.day // DAYS_PER_WEEK)
                resolve.apply_requests(w)  # deployments, if they change
            # recruitment: the aggregate's rho per member, per cell (as recruitment.py, no
            # revenue or closure effects: one value per region and no economy here)
            rate = w.week.eff[RECRUITMENT_RATE] / DAYS_PER_WEEK * w.cells
            recruits = self.np_rng.poisson(rate)
            for g, r in zip(*np.nonzero(recruits), strict=True):
                for _ in range(recruits[g, r]):
                    Member(self, int(g), int(r))
            w.cells[:] += recruits
            size = w.cells.sum(axis=1)
            w.hazards.leaving[:] = (w.week.eff[SATURATION] / DAYS_PER_WEEK / w.scale) * size[
                :, None
            ]
            movement.step(w, self.day)
            clashes.step(w, self.day)
            raids.step(w, self.day)
            w.requests.take()  # none with these rules (no retaliation, no kills of forces)
            total = w.hazards.table.sum(axis=0)
            self.probability = 1.0 - np.exp(-total)
            self.shares = np.cumsum(w.hazards.table, axis=0) / np.where(total > 0, total, 1.0)
            self.move_probability, self.move_cdf = w.move_probability, w.move_cdf
            self.agents.shuffle_do("step")
            self.day += 1

    return MesaModel(scenario, seed)


def mesa_vs_cartelsim(members: int, days: int, repeat: int) -> dict:
    from cartelsim.agents.engine import simulate_agents
    from cartelsim.agents.world import DAYS_PER_WEEK

    scenario = bench_scenario(members, days)
    simulate_agents(bench_scenario(500, 14))  # compile the kernels first
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        ours = simulate_agents(scenario, seed=1)
        best = min(best, time.perf_counter() - start)
    model = mesa_model(scenario, seed=1)
    start = time.perf_counter()
    for _ in range(ours.plan.weeks * DAYS_PER_WEEK):
        model.step()
    mesa_s = time.perf_counter() - start
    return {
        "agents_start": members,
        "days": ours.plan.weeks * DAYS_PER_WEEK,
        "cartelsim_s": best,
        "mesa_s": mesa_s,
        "ratio": mesa_s / best,
        "members_end_cartelsim": float(ours.traj.members[-1].sum()),
        "members_end_mesa": float(len(model.agents)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=364)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-full", action="store_true", help="skip (a), the 1:1 run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out = {"machine": f"{platform.processor() or platform.machine()}, {_cores()} cores"}
    if not args.skip_full:
        out["full_run"] = full_run()
    if mesa is not None:
        out["mesa"] = mesa_vs_cartelsim(args.agents, args.days, args.repeat)
    if args.json:
        print(json.dumps(out, indent=2))
        return
    version = mesa.__version__ if mesa is not None else "not installed"
    print(f"machine: {out['machine']}, Python {platform.python_version()}, Mesa {version}")
    if "full_run" in out:
        f = out["full_run"]
        print("(a) 1:1 mexico-2006-2012, agent engine, one run:")
        print(f"    agents at the start: {f['agents']}")
        print(
            f"    engine {f['engine_s']:.1f} s (+ {f['import_s']:.1f} s imports), whole process "
            f"{f['process_wall_s']:.1f} s: {_verdict(f['process_wall_s'] <= TARGET_SECONDS)} "
            f"(target {TARGET_SECONDS:.0f} s)"
        )
        print(
            f"    peak memory {f['peak_rss_gb']:.2f} GB: "
            f"{_verdict(f['peak_rss_gb'] <= TARGET_GB)} (target {TARGET_GB:.0f} GB)"
        )
        if "agent_days" in f:
            low, high = COVASIM_PERSON_DAYS_PER_S
            for label, days in (("all agents", f["agent_days"]), ("members", f["member_days"])):
                wall, cpu = days / f["engine_s"], days / f["engine_cpu_s"]
                print(
                    f"    {label}: {days / 1e9:.2f} billion agent-days, {wall / 1e6:,.0f} "
                    f"million per second of engine wall time ({cpu / 1e6:,.0f} million per CPU "
                    f"second; Covasim: {low / 1e6:.0f}-{high / 1e6:.0f} million person-days "
                    f"per second on one core, {cpu / high:.0f}-{cpu / low:.0f}x)"
                )
    if mesa is None:
        print("(b) skipped: Mesa is not installed (pip install mesa==3.3.1 to compare)")
        return
    m = out["mesa"]
    print(f"(b) same rules, {m['agents_start']:,} members, {m['days']} days, states map:")
    print(f"    cartelsim {m['cartelsim_s']:.3f} s, Mesa {m['mesa_s']:.1f} s")
    print(
        f"    ratio {m['ratio']:.0f}x: {_verdict(m['ratio'] >= TARGET_RATIO)} "
        f"(target {TARGET_RATIO:.0f}x)"
    )
    print(
        f"    members at the end: cartelsim {m['members_end_cartelsim']:,.0f}, "
        f"Mesa {m['members_end_mesa']:,.0f}"
    )


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


if __name__ == "__main__":
    main()

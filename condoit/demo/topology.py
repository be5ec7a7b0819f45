"""The one-line diagram of a demo facility: which equipment feeds which.

Roles and their class spellings, how a facility's roles are drawn, feeders chosen, equipment
named and rated, and the emission order that moves a few feeders after what they feed.
"""

from __future__ import annotations

import random

# fmt: off
# role → (class spellings, weights)
_CLASSES = {
    "meter": (("Utility Meter",), (1,)),
    "main": (("Main Switchboard", "Switchboard", "Switchgear", "SWITCHGEAR"), (40, 20, 32, 8)),
    "switchboard": (("Switchboard", "Main Switchboard", "switchboard"), (85, 5, 10)),
    "transformer": (("Dry Type Transformer", "Pad-Mount Transformer",
                     "DRY TYPE TRANSFORMER"), (82, 8, 10)),
    "panel": (("Panelboard", "PANELBOARD", "Panel Board", "Lighting Panel"), (55, 10, 10, 25)),
    "breaker": (("Molded Case Breaker", "Circuit Breaker", "circuit breaker"), (58, 38, 4)),
    "disconnect": (("Safety Switch", "Fused Disconnect"), (55, 45)),
    "mcc": (("Motor Control Center", "MCC"), (60, 40)),
    "busway": (("Busway", "Bus Duct"), (60, 40)),
    "raceway": (("Cable Tray",), (1,)),
    "ats": (("Automatic Transfer Switch", "ATS"), (55, 45)),
    "ups": (("UPS",), (1,)),
    "generator": (("Emergency Generator",), (1,)),
    "unknown": (("Capacitor Bank", "VFD", "Harmonic Filter"), (35, 45, 20)),
}

# Roles after the fixed head of each facility's one-line diagram. The level orders them so
# that feeders normally come before what they feed.
_ROLE_LEVEL = {
    "meter": 0, "main": 1, "generator": 1, "switchboard": 2, "busway": 2, "ats": 2,
    "transformer": 3, "mcc": 3, "ups": 3, "panel": 4, "raceway": 5, "disconnect": 5,
    "breaker": 6, "unknown": 6,
}
_FREE_ROLES = ("switchboard", "transformer", "panel", "breaker", "disconnect", "mcc",
               "busway", "raceway", "ats", "ups", "generator")
_FREE_WEIGHTS = (2.0, 7.0, 22.0, 48.0, 8.0, 3.0, 3.0, 3.5, 1.0, 1.0, 0.3)

_NAME_PREFIX = {
    "meter": "M-", "switchboard": "DSB-", "transformer": "TX-", "disconnect": "DS-",
    "mcc": "MCC-", "busway": "BD-", "raceway": "CT-", "ats": "ATS-", "ups": "UPS-",
    "generator": "GEN-", "breaker": "CB-",
}
_UNKNOWN_PREFIX = {"capacitor bank": "CAP-", "vfd": "VFD-", "harmonic filter": "HF-"}

# role → amperage ratings to draw from (a raceway has none); a 240/120 V service replaces the
# meter's and the main's with 400–800 A
_AMPS = {
    "meter": (800, 1200, 1600, 2000, 2500, 3000, 4000),
    "main": (800, 1200, 1600, 2000, 2500, 3000, 4000),
    "switchboard": (400, 600, 800, 1200, 1600),
    "transformer": (42, 83, 125, 208, 313, 416, 625, 833),
    "panel": (100, 125, 225, 225, 225, 400, 600),
    "breaker": (15, 20, 20, 20, 30, 40, 50, 60, 70, 100, 125, 150, 225, 400),
    "disconnect": (30, 60, 100, 200, 400),
    "mcc": (600, 800, 1200),
    "busway": (800, 1000, 1350, 1600, 2000),
    "ats": (100, 260, 400, 600, 800, 1200),
    "ups": (100, 150, 225, 400, 600),
    "generator": (300, 600, 1000, 1500, 2500),
    "unknown": (50, 100, 200, 400),
}
# roles at their feeder's voltage (the service's when they have no feeder)
_FED_VOLTAGE = frozenset(("breaker", "disconnect", "unknown"))
# fmt: on


class Node:
    __slots__ = (
        "role",
        "cls",
        "name",
        "parent",
        "children",
        "amps",
        "voltage",
        "phases",
        "rec",
        "idx",
    )

    def __init__(self, role: str) -> None:
        self.role = role
        self.parent: Node | None = None
        self.children = 0


def plan_diagram(rng: random.Random, m: int) -> list[Node]:
    """One-line diagram of a facility: roles, parents, names, ratings (no ids yet)."""
    if m <= 0:
        return []
    roles = ["meter", "main"][:m]
    if m >= 10:
        roles += ["generator", "ats"]
    while len(roles) < m:
        if rng.random() < 0.005:
            roles.append("unknown")
        else:
            roles.append(rng.choices(_FREE_ROLES, _FREE_WEIGHTS)[0])
    head = roles[:2]
    tail = sorted(roles[2:], key=_ROLE_LEVEL.__getitem__)
    nodes = [Node(r) for r in head + tail]

    # service voltage
    service = rng.choices(("480Y/277V", "208Y/120V", "240/120V"), (70, 22, 8))[0]
    by_role: dict[str, list[Node]] = {}
    counters: dict[str, int] = {}
    panel_no = 0
    for node in nodes:
        role = node.role
        classes, weights = _CLASSES[role]
        node.cls = classes[0] if len(classes) == 1 else rng.choices(classes, weights)[0]
        # rare case variants of any spelling (mappings are case-insensitive)
        if rng.random() < 0.02:
            node.cls = node.cls.upper() if rng.random() < 0.6 else node.cls.lower()

        def pick(*cands: str) -> Node | None:
            pool = [n for c in cands for n in by_role.get(c, ())]
            return rng.choice(pool) if pool else None

        parent = None
        if role == "main":
            parent = pick("meter")
        elif role == "switchboard" or role == "busway" or role == "mcc":
            parent = pick("main", "switchboard") if role != "switchboard" else pick("main")
        elif role == "ats":
            parent = pick("main", "switchboard")
        elif role == "transformer":
            parent = pick("main", "main", "switchboard", "busway")
        elif role == "ups":
            parent = pick("ats") or pick("main")
        elif role == "panel":
            r = rng.random()
            if r < 0.55:
                parent = pick("transformer")
            elif r < 0.62:
                parent = pick("ups", "ats")
            elif r < 0.7:
                parent = pick("busway")
            parent = parent or pick("main", "switchboard")
        elif role == "disconnect":
            parent = pick("panel", "panel", "mcc", "switchboard") or pick("main")
        elif role == "breaker":
            parent = pick("panel") if rng.random() < 0.85 else pick("switchboard", "main")
            parent = parent or pick("main")
        elif role == "unknown":
            parent = pick("main", "mcc", "panel")
        elif role == "raceway":
            parent = pick("main") if rng.random() < 0.3 else None
        # meter and generator have no feeder (the generator is a standby source)
        node.parent = parent
        if parent is not None:
            parent.children += 1

        # name
        if role == "main":
            node.name = rng.choice(("MSB", "MSB-1", "SWGR-1", "Main Switchboard", "MDP"))
        elif role == "panel":
            panel_no += 1
            floor = (panel_no - 1) // 4 + 1
            letter = "ABCD"[(panel_no - 1) % 4]
            node.name = rng.choice(
                (
                    f"Panel {floor}H{letter}",
                    f"Panel {floor}L{letter}",
                    f"LP-{floor}{letter}",
                    f"Panel {letter}{floor}",
                    f"PP-{floor}{letter}",
                )
            )
            if node.name in (n.name for n in by_role.get("panel", ())):
                node.name = f"{node.name}-{panel_no}"
        elif role == "unknown":
            c = counters.get(node.cls, 0) + 1
            counters[node.cls] = c
            node.name = f"{_UNKNOWN_PREFIX.get(node.cls.lower(), 'X-')}{c}"
        else:
            c = counters.get(role, 0) + 1
            counters[role] = c
            if role == "breaker" and parent is not None and parent.role == "panel":
                node.name = f"{parent.name.replace('Panel ', '')} CKT {2 * parent.children - 1}"
            else:
                node.name = f"{_NAME_PREFIX[role]}{c}"

        # voltage: the service's, the feeder's or a transformer's secondary
        if role == "transformer":
            node.voltage = "208Y/120V"
        elif role == "panel":
            src = parent.voltage if parent is not None else service
            node.voltage = src if src != "480Y/277V" or rng.random() < 0.7 else "208Y/120V"
        elif role in _FED_VOLTAGE:
            node.voltage = parent.voltage if parent is not None else service
        else:
            node.voltage = service
        amps = _AMPS.get(role)
        node.amps = rng.choice(amps) if amps is not None else None
        if service == "240/120V" and role in ("meter", "main"):
            node.amps = rng.choice((400, 600, 800))
        if node.voltage == "240/120V":
            node.phases = 1
        elif role == "breaker" and node.amps <= 30 and rng.random() < 0.5:
            node.phases = 1
        else:
            node.phases = 3
        by_role.setdefault(role, []).append(node)
    return nodes


def emission_order(rng: random.Random, nodes: list[Node], force: bool) -> list[Node]:
    """Mostly upstream-first, with a few feeders moved after what they feed."""
    order = list(nodes)
    feeders = [n for n in order if n.children > 0]
    if not feeders:
        return order
    k = rng.choices((0, 1, 2, 3), (45, 30, 15, 10))[0]
    if force:
        k = max(k, 1)
    for n in rng.sample(feeders, min(k, len(feeders))):
        order.remove(n)
        order.append(n)
    return order

"""Paths one jail resolves as root through what another jail can write: found for a whole fleet at once.

Every pair of jails is a candidate, so comparing each jail with every other
one is quadratic: 500 jails took 2.5 s here before the first unit was written.
`Index` files every jail's writable places by path and every resolved place
under each directory above it once; a jail's conflicts are then lookups along
its own paths' ancestors, and the cost per jail stays flat as the fleet grows.

The findings, and their order, are those of the pairwise definition
(tests/test_writable_set.py holds it as the oracle and compares them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from .spec import Place, Sets

Hit = tuple[int, int, Sets, Place]  # (jail's position, place's position in its set, jail, place)


def ancestors(path: str) -> list[str]:
    """Every directory a normalised absolute path lies strictly below, nearest first."""
    out = []
    while path not in ("/", "") and path.startswith("/"):
        path = path.rsplit("/", 1)[0] or "/"
        out.append(path)
    return out


def _first_per_jail(hits: Iterable[Hit], skip: str) -> dict[int, Hit]:
    """The first place (in its set's order) of each other jail among the hits."""
    best: dict[int, Hit] = {}
    for hit in hits:
        if hit[2].name != skip and (hit[0] not in best or hit[1] < best[hit[0]][1]):
            best[hit[0]] = hit
    return best


class Index:
    """Every jail's writable and resolved places, filed for lookups by path."""

    def __init__(self, sets: list[Sets]) -> None:
        self.writable_at: dict[str, list[Hit]] = defaultdict(list)
        self.writable_under: dict[str, list[Hit]] = defaultdict(list)
        self.resolved_under: dict[str, list[Hit]] = defaultdict(list)
        self.roots_at: dict[str, list[Hit]] = defaultdict(list)
        for n, jail in enumerate(sets):
            for i, place in enumerate(jail.writable):
                self.writable_at[place.path].append((n, i, jail, place))
                for top in ancestors(place.path):
                    self.writable_under[top].append((n, i, jail, place))
            for i, place in enumerate(jail.resolved):
                for top in ancestors(place.path):
                    self.resolved_under[top].append((n, i, jail, place))
                if place.key == "root":
                    self.roots_at[place.path].append((n, i, jail, place))

    def conflicts(self, mine: Sets) -> list[tuple[str, str]]:
        """(key of `mine`, message) for what `mine` resolves through another jail's writable set, or another
        resolves through mine, or a writable place of one inside the other's tree."""
        per_jail: dict[int, list[tuple[str, str]]] = defaultdict(list)
        # 1. What mine resolves below another's writable place (a root also at it).
        for place in mine.resolved:
            tops = ancestors(place.path) + ([place.path] if place.key == "root" else [])
            hits = (hit for top in tops for hit in self.writable_at.get(top, ()))
            for n, _, other, w in sorted(_first_per_jail(hits, mine.name).values(), key=lambda h: h[0]):
                per_jail[n].append((place.key, f"{place.path} lies below {w.path}, which jail {other.name} can "
                                    "write: it could swap the way there for a symlink and root would follow it"))
        # 2. What another resolves below my writable places: the first of mine for each of its places.
        theirs: dict[tuple[int, int], tuple[int, Hit]] = {}
        for j, mine_place in enumerate(mine.writable):
            below = self.resolved_under.get(mine_place.path, [])
            at = self.roots_at.get(mine_place.path, [])
            for hit in (*below, *at):
                if hit[2].name != mine.name:
                    theirs.setdefault((hit[0], hit[1]), (j, hit))  # (j ascends: the first of mine stays)
        for (n, _), (j, (_, _, other, place)) in sorted(theirs.items()):
            hit_place = mine.writable[j]
            per_jail[n].append((hit_place.key, f"{hit_place.path} is writable to this jail, and jail {other.name} "
                                f"resolves {place.path} below it as root ({place.key})"))
        # 3. A writable place of mine inside another's tree, then one of another's inside mine.
        inside: dict[tuple[int, int], tuple[int, Hit]] = {}
        for j, mine_place in enumerate(mine.writable):
            for top in ancestors(mine_place.path):
                for hit in self.roots_at.get(top, ()):
                    if hit[2].name != mine.name:
                        inside.setdefault((hit[0], hit[1]), (j, hit))
        for (n, _), (j, (_, _, other, root)) in sorted(inside.items()):
            hit_place = mine.writable[j]
            per_jail[n].append((hit_place.key, _inside_message(hit_place, root, other.name, mine.name)))
        for root in (p for p in mine.resolved if p.key == "root"):
            theirs_inside = self.writable_under.get(root.path, [])
            for n, _, other, w in sorted(_first_per_jail(theirs_inside, mine.name).values(), key=lambda h: h[0]):
                per_jail[n].append(("root", _inside_message(w, root, mine.name, other.name)))
        return [finding for n in sorted(per_jail) for finding in per_jail[n]]


def _inside_message(hit: Place, root: Place, tree_of: str, writer: str) -> str:
    return (f"{hit.path} ({hit.key}) lies inside the tree of jail {tree_of} ({root.path}), writable to jail "
            f"{writer}: it could change what the other jail runs and the paths its start resolves as root")


def conflicts(mine: Sets, others: list[Sets]) -> list[tuple[str, str]]:
    """Index(others).conflicts(mine), for one jail."""
    return Index(others).conflicts(mine)


def _is_secret(place: Place) -> bool:
    return place.key.startswith("credentials[")


def _is_bind_source(place: Place) -> bool:
    return place.key.startswith("mounts[") and place.key.endswith(".source")


class SecretIndex:
    """Every jail's credential sources and bind sources, filed by path: a bind of another jail's secret (or of
    a directory above it), read-only too, puts the host's file in this jail, where its root (uid 0 under the
    launcher, the file's owner) reads it (red team 4).  The jail file's own are spec.py's."""

    def __init__(self, sets: list[Sets]) -> None:
        self.secrets_under: dict[str, list[tuple[str, Place]]] = defaultdict(list)  # at or below the key
        self.binds_at: dict[str, list[tuple[str, Place]]] = defaultdict(list)
        for jail in sets:
            for place in jail.resolved:
                if _is_secret(place):
                    for top in (place.path, *ancestors(place.path)):
                        self.secrets_under[top].append((jail.name, place))
                elif _is_bind_source(place):
                    self.binds_at[place.path].append((jail.name, place))

    def exposures(self, mine: Sets) -> list[tuple[str, str]]:
        """(key of `mine`, message): my binds of another's secret, and my secrets another jail binds."""
        found = []
        for place in mine.resolved:
            if _is_bind_source(place):
                for other, secret in self.secrets_under.get(place.path, ()):
                    if other != mine.name:
                        found.append((place.key, f"{place.path} is or holds {secret.path}, a credential's source "
                                      f"of jail {other}: bound here, the secret would be in this jail for its root "
                                      "to read; mount a directory beside it"))
                        break
            elif _is_secret(place):
                for top in (place.path, *ancestors(place.path)):
                    hit = next(((o, b) for o, b in self.binds_at.get(top, ()) if o != mine.name), None)
                    if hit is not None:
                        found.append((place.key, f"{place.path} lies at or below {hit[1].path}, which jail {hit[0]} "
                                      f"binds in ({hit[1].key}): its root would read the secret; keep it elsewhere"))
                        break
        return found

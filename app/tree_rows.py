"""Where the beam tree's nodes go: x is the decoding step, y a row, so that at the
view's height no two hypotheses are drawn over each other and every surviving row has a
label's room. Plain numpy, no Qt: the tree view (app.beam_tree) draws what this places.
"""

from __future__ import annotations

import numpy as np

LIVE_PX = 24.0  # pitch of a surviving row: its node and a label line above it
LIVE_MIN_PX = 19.0  # the least it gets before pruned rows squeeze: a label line just fits
PRUNED_PX = 10.0  # pitch of a pruned row: a ring (radius 4) clear of a square (5.5)
TOP_PX, BOTTOM_PX = 40.0, 12.0  # room above the first row (two lines of labels), below the last


def tree_layout(parents: np.ndarray, rank: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(depth, y) for nodes given parent ids (root = -1, parents before children).

    Children are visited in ``rank`` order (lowest first, default: id); leaves get
    consecutive y in that depth-first order and an inner node takes its first child's y,
    so the first-ranked line of descent runs straight across and the rest hang below it.
    """
    n = len(parents)
    children: list[list[int]] = [[] for _ in range(n)]
    for i in range(1, n):
        children[int(parents[i])].append(i)
    if rank is not None:
        for kids in children:
            kids.sort(key=lambda c: rank[c])
    depth = np.zeros(n)
    y = np.zeros(n)
    next_leaf = 0.0
    stack: list[tuple[int, bool]] = [(0, False)] if n else []
    while stack:
        node, done = stack.pop()
        if done:
            y[node] = y[children[node][0]]
            continue
        if not children[node]:
            y[node] = next_leaf
            next_leaf += 1
            continue
        stack.append((node, True))
        for c in reversed(children[node]):
            depth[c] = depth[node] + 1
            stack.append((c, False))
    return depth, y


def spaced_rows(depth: np.ndarray, y: np.ndarray, parents: np.ndarray, pruned: np.ndarray,
                height_px: float) -> tuple[np.ndarray, list[list[int]], float]:
    """Rows for ``tree_layout``'s leaf order that keep hypotheses apart at this height.

    Units are one surviving row's pitch; a row of pruned leaves takes a share r of it:
    the smallest that keeps pruned dots PRUNED_PX apart, at least a third, and at most
    what leaves every surviving row LIVE_PX. When no r does both, the pruned siblings
    of one parent share one mark (a group, whose tooltip lists them all) and pruned rows
    between two surviving ones share a lane where their steps do not overlap; where
    even that does not fit, the pruned rows give way to the surviving ones.
    Returns (y, groups of two or more node ids on one mark, pixels per unit).
    """
    n = len(y)
    children = np.bincount(parents[1:].astype(int), minlength=n) if n > 1 else np.zeros(n, int)
    leaves = sorted((i for i in range(n) if children[i] == 0), key=lambda i: y[i])
    row_of_leaf = {float(y[i]): i for i in leaves}
    # Each node sits on its first-ranked leaf's row (tree_layout gave it that leaf's y);
    # a row spans the steps from its first node's parent to its last node.
    span: dict[int, tuple[float, float]] = {}
    for i in range(n):
        leaf = row_of_leaf[float(y[i])]
        lo, hi = span.get(leaf, (np.inf, -np.inf))
        span[leaf] = (min(lo, depth[i] - 1), max(hi, depth[i]))

    def rows(collapse: bool) -> list[tuple[bool, list[int]]]:
        """(pruned, leaves) per row, top to bottom."""
        out: list[tuple[bool, list[int]]] = []
        lanes: list[list[tuple[float, float]]] = []  # spans taken, per lane of this stretch
        first_lane, prev = 0, -1
        where: dict[int, int] = {}  # leaf -> its row in out
        for i in leaves:
            if collapse and pruned[i] and prev >= 0 and pruned[prev] and parents[prev] == parents[i]:
                where[i] = where[prev]  # a sibling: on the same mark
            elif collapse and pruned[i]:  # the first lane below the last surviving row with room
                lo, hi = span[i]
                free = [k for k, taken in enumerate(lanes) if all(hi <= a or b <= lo for a, b in taken)]
                if free:
                    where[i] = first_lane + free[0]
                    lanes[free[0]].append((lo, hi))
                else:
                    where[i] = len(out)
                    lanes.append([(lo, hi)])
                    out.append((True, []))
            else:
                where[i] = len(out)
                out.append((bool(pruned[i]), []))
                if not pruned[i]:
                    lanes, first_lane = [], len(out)
            out[where[i]][1].append(i)
            prev = i
        return out

    def placed(rs: list[tuple[bool, list[int]]], r: float) -> np.ndarray:
        return np.cumsum([0.0] + [r if p else 1.0 for p, _ids in rs[1:]])

    r = 1 / 3
    layout = rows(False)
    height_px = max(height_px - TOP_PX - BOTTOM_PX, 1.0)
    if any(p for p, _ids in layout[1:]):
        # Full rows apart, else pruned siblings folded, else surviving rows one label tall.
        for live_px, collapse in ((LIVE_PX, False), (LIVE_PX, True), (LIVE_MIN_PX, True)):
            layout = rows(collapse)
            # span(r) = a + b r in units: solve unit >= live_px and unit * r >= PRUNED_PX.
            a = sum(1 for p, _ids in layout[1:] if not p)
            b = sum(1 for p, _ids in layout[1:] if p)
            r_lo = PRUNED_PX * a / (height_px - PRUNED_PX * b) if height_px > PRUNED_PX * b else np.inf
            r_hi = (height_px / live_px - a) / b
            if r_lo <= r_hi:
                r = min(max(1 / 3, r_lo), r_hi, 1.0)
                break
        else:  # too small for both: surviving rows first, the pruned ones squeeze
            r = float(np.clip(r_hi, 0.12, 1 / 3))
    row_y = placed(layout, r)
    unit = height_px / row_y[-1] if len(row_y) and row_y[-1] > 0 else LIVE_PX
    leaf_y = {i: row_y[k] for k, (_p, ids) in enumerate(layout) for i in ids}
    out = np.array([leaf_y[row_of_leaf[float(y[i])]] for i in range(n)])
    # Leaves on one mark: same row and same step (siblings folded together).
    groups: list[list[int]] = []
    for _p, ids in layout:
        by_parent: dict[int, list[int]] = {}
        for i in ids:
            by_parent.setdefault(int(parents[i]), []).append(i)
        groups += [g for g in by_parent.values() if len(g) > 1]
    return out, groups, unit

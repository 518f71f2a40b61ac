"""The availability factoring of ``impact.availability``, each branch derived from its parent.

``availability._factor`` is the specification: a best-first search over branches (some
components' own states fixed) that, per branch, walks the whole cone twice
(``_Structure.analyse``: which CIs are certainly up or down, how many paths reach each
undecided one, the most upstream shared one; ``_Structure.evaluate``: the series-parallel
probability). On a tangled cone the search runs out of budget after a few hundred steps,
so the answer is a bound, and almost all its time is those two walks repeated over the
same cone (88 % of a proposal diff at 10k CIs, profiled).

A child branch differs from its parent by one fixed component ``x``. What it changes:

* the certain states (``const``) of ``x`` and of the CIs downstream of it whose members'
  states changed, nothing else (each CI's state is a function of its own fixing and its
  members' states);
* the capped path counts (``paths``: 0, 1 or 2+), below the CIs that became certain
  (a certain CI passes no paths on); each CI keeps the uncapped sum of what its owners
  pass it, so a count can go down as well as up;
* the probabilities of ``x`` and of the CIs downstream of it whose members' changed;
* the next pivot lies after ``x`` in the post order: fixing more never makes a CI shared
  that was not (the certain states only gain, the path counts only drop), and ``x`` was
  the parent's first.

Each CI is recomputed with the very expressions of ``analyse`` and ``evaluate``, in an
order where its members come first, and the branches are searched in the same order
with the same budget, so every figure (value, bounds, steps) is the same float as the
specification's, not an approximation of it (tests/unit/impact/test_factoring.py holds
the two side by side on generated estates).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from typing import Protocol

Groups = list[list[tuple[tuple[int, ...], int]]]
# How at_least computes a group: one member needed of one, k == n, k == 1, otherwise.
_ONE, _ALL, _ANY, _KOFN = range(4)


def _mode(members: tuple[int, ...], k: int) -> int:
    if k == len(members) and k > 0:
        return _ONE if k == 1 else _ALL
    return _ANY if k == 1 else _KOFN


class Structure(Protocol):
    """What the search reads of ``availability._Structure``."""

    p: list[float]
    root: int
    groups: Groups
    order: list[int]


def at_least(k: int, probs: Sequence[float]) -> float:
    """P(at least k of independent events with these probabilities)."""
    n = len(probs)
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if k == n:
        out = 1.0
        for p in probs:
            out *= p
        return out
    if k == 1:
        none = 1.0
        for p in probs:
            none *= 1.0 - p
        return 1.0 - none
    dist = [1.0] + [0.0] * n  # dist[j]: P(exactly j up among those seen)
    for i, p in enumerate(probs):
        for j in range(i + 1, 0, -1):
            dist[j] = dist[j] * (1.0 - p) + dist[j - 1] * p
        dist[0] *= 1.0 - p
    return sum(dist[k:])


class _State:
    """One analysed branch: its certain states, path counts and probabilities."""

    __slots__ = ("const", "paths", "prob", "sums")

    def __init__(
        self,
        const: list[int | None],
        sums: list[int],
        paths: list[int],
        prob: list[float] | None,
    ) -> None:
        self.const = const
        self.sums = sums  # per CI: the paths its undecided owners pass it, uncapped
        self.paths = paths
        self.prob = prob


class _Search:
    def __init__(self, st: Structure) -> None:
        self.p = st.p
        self.root = st.root
        self.groups = st.groups
        self.order = st.order
        n = len(st.p)
        self.pos = [-1] * n
        for i, v in enumerate(st.order):
            self.pos[v] = i
        owners: list[list[int]] = [[] for _ in range(n)]
        for v in st.order:
            for members, _k in st.groups[v]:
                for m in members:
                    if not owners[m] or owners[m][-1] != v:
                        owners[m].append(v)
        self.owners = owners
        # at_least's cases per group, decided once: k == n is a product (of one member,
        # that member: 1.0 * x == x), k == 1 one minus the product of the complements.
        self.plan: list[list[tuple[int, tuple[int, ...], int]]] = [
            [(_mode(members, k), members, k) for members, k in gs] for gs in st.groups
        ]
        # CIs whose groups all need their one member: those members, in group order.
        self.singles: list[tuple[int, ...] | None] = [
            tuple(ms[0] for _mode, ms, _k in groups)
            if all(mode == _ONE for mode, _ms, _k in groups)
            else None
            for groups in self.plan
        ]
        self._below: dict[int, list[int]] = {}

    # --- one CI, exactly as analyse / evaluate compute it --------------------------------

    def _const_of(self, v: int, fixed: dict[int, bool], const: list[int | None]) -> int | None:
        own = fixed.get(v)
        intrinsic = (1 if own else 0) if own is not None else (1 if self.p[v] >= 1.0 else None)
        if intrinsic == 0:
            return 0
        certain_up = intrinsic == 1
        for mode, members, k in self.plan[v]:
            if mode == _ONE:  # the counts below for one member needed
                c = const[members[0]]
                if c == 0:
                    return 0
                if c != 1:
                    certain_up = False
                continue
            c0 = sum(1 for m in members if const[m] == 0)
            c1 = sum(1 for m in members if const[m] == 1)
            if len(members) - c0 < k:
                return 0
            if c1 < k:
                certain_up = False
        return 1 if certain_up else None

    def _prob_of(self, v: int, fixed: dict[int, bool], prob: list[float]) -> float:
        own = fixed.get(v)
        pv = self.p[v] if own is None else float(own)
        for members, k in self.groups[v]:
            if pv == 0.0:
                break
            pv *= at_least(k, [prob[m] for m in members])
        return pv

    # --- whole branches -------------------------------------------------------------------

    def first(self) -> _State:
        """The branch with nothing fixed, walked in full as analyse and evaluate do."""
        n = len(self.p)
        const: list[int | None] = [None] * n
        for v in self.order:
            const[v] = self._const_of(v, {}, const)
        prob = [0.0] * n
        for v in self.order:
            prob[v] = self._prob_of(v, {}, prob)
        sums, paths = [0] * n, [0] * n
        if const[self.root] is None:
            paths[self.root] = 1
            for v in reversed(self.order):
                if v != self.root:
                    paths[v] = min(2, sums[v]) if const[v] is None else 0
                if paths[v]:
                    for members, _k in self.groups[v]:
                        for m in members:
                            sums[m] += paths[v]
        return _State(const, sums, paths, prob)

    def _downstream(self, x: int) -> list[int]:
        """``x`` and every CI whose probability depends on it, members first."""
        got = self._below.get(x)
        if got is None:
            seen = {x}
            stack = [x]
            while stack:
                for o in self.owners[stack.pop()]:
                    if o not in seen:
                        seen.add(o)
                        stack.append(o)
            got = sorted(seen, key=self.pos.__getitem__)
            self._below[x] = got
        return got

    def child_prob(self, parent: _State, x: int, fixed: dict[int, bool]) -> list[float]:
        """The parent's probabilities with ``x`` fixed (``fixed`` includes it): ``x`` and
        what lies downstream of it, by evaluate's expression for one CI.

        Only ``x`` is fixed among them (pivots are taken in post order, so every earlier
        one lies upstream of ``x``). A CI whose groups are single members multiplies their
        probabilities in turn, as at_least's one-member product does (1.0 * a == a);
        evaluate's stop at 0.0 only skips products that stay 0.0."""
        assert parent.prob is not None
        prob = parent.prob.copy()
        p, plan, singles = self.p, self.plan, self.singles
        for v in self._downstream(x):
            pv = p[v] if v != x else float(fixed[x])
            ms = singles[v]
            if ms is not None:
                for m in ms:
                    pv *= prob[m]
                prob[v] = pv
                continue
            for mode, members, k in plan[v]:
                if pv == 0.0:
                    break
                if mode == _ONE:
                    pv *= prob[members[0]]
                elif mode == _ALL:
                    pv *= math.prod([prob[m] for m in members])
                elif mode == _ANY:
                    pv *= 1.0 - math.prod([1.0 - prob[m] for m in members])
                else:
                    pv *= at_least(k, [prob[m] for m in members])
            prob[v] = pv
        return prob

    def child(self, parent: _State, x: int, fixed: dict[int, bool]) -> _State:
        """The parent's certain states and path counts with ``x`` fixed (``fixed`` includes
        it); the probabilities only when the branch is not decided."""
        const = parent.const.copy()
        pos, owners, order = self.pos, self.owners, self.order
        became: list[int] = []
        todo = [pos[x]]
        queued = {x}
        while todo:
            v = order[heapq.heappop(todo)]
            new = self._const_of(v, fixed, const)
            if new != const[v]:
                const[v] = new
                became.append(v)
                for o in owners[v]:
                    if o not in queued:
                        queued.add(o)
                        heapq.heappush(todo, pos[o])
        if const[self.root] is not None:
            return _State(const, parent.sums, parent.paths, None)
        sums, paths = parent.sums.copy(), parent.paths.copy()
        # Owners before members: a CI's count is final once every owner has passed its own.
        down = [-pos[v] for v in became]
        heapq.heapify(down)
        queued = set(became)
        root = self.root
        while down:
            v = order[-heapq.heappop(down)]
            new = (min(2, sums[v]) if v != root else 1) if const[v] is None else 0
            delta = new - paths[v]
            if not delta:
                continue
            paths[v] = new
            for members, _k in self.groups[v]:
                for m in members:
                    sums[m] += delta
                    if m not in queued:
                        queued.add(m)
                        heapq.heappush(down, -pos[m])
        return _State(const, sums, paths, self.child_prob(parent, x, fixed))

    def pivot(self, state: _State, fixed: dict[int, bool], after: int) -> int | None:
        """The first shared undecided component in post order past position ``after``."""
        const, paths, p, order = state.const, state.paths, self.p, self.order
        for i in range(after + 1, len(order)):
            v = order[i]
            if const[v] is None and paths[v] >= 2 and p[v] < 1.0 and v not in fixed:
                return v
        return None


# (-weight, sequence, fixed, parent state, the component fixed last, the SPOF cap): the
# sequence breaks ties as availability._Branch's does, so branches leave the heap in the
# same order.
_Entry = tuple[float, int, dict[int, bool], _State | None, int, float | None]


def factor(
    st: Structure, spofs: list[int], max_steps: int
) -> tuple[float, float, float, int, bool]:
    """``availability._factor``'s answer, the same floats: (value, lower, upper, steps, exact)."""
    search = _Search(st)
    pos = search.pos
    done = 0.0
    # _factor's cap multiplies, in order, each SPOF's availability, or 1.0 / 0.0 where the
    # branch fixed it: times 1.0 changes no float and times 0.0 leaves 0.0, so a branch's
    # cap is its parent's unless it fixed a SPOF: 0.0 once one is down (None), else the
    # product over the SPOFs not fixed, in order. Carried with each branch instead of a
    # loop over the SPOFs per open branch.
    spof_set = set(spofs)

    def cap_of(fixed: dict[int, bool]) -> float:
        cap = 1.0
        for v in spofs:
            if v not in fixed:
                cap *= st.p[v]
        return cap

    heap: list[_Entry] = [(-1.0, 0, {}, None, -1, cap_of({}))]
    seq = steps = 0
    while heap and steps < max_steps:
        neg, _seq, fixed, parent, x, cap = heapq.heappop(heap)
        weight = -neg
        state = search.first() if parent is None else search.child(parent, x, fixed)
        steps += 1
        known = state.const[st.root]
        if known is not None:
            done += weight * known
            continue
        pivot = search.pivot(state, fixed, pos[x] if parent is not None else -1)
        if pivot is None:
            assert state.prob is not None
            done += weight * state.prob[st.root]
            continue
        for up, w in ((True, st.p[pivot]), (False, 1.0 - st.p[pivot])):
            seq += 1
            branch = {**fixed, pivot: up}
            c: float | None = cap  # None: a SPOF is fixed down, the cap is 0.0
            if c is not None and pivot in spof_set:
                c = cap_of(branch) if up else None
            heapq.heappush(heap, (-weight * w, seq, branch, state, pivot, c))
    if not heap:
        return done, done, done, steps, True
    open_upper = open_estimate = 0.0
    for neg, _seq, fixed, parent, x, cap in heap:
        weight = -neg
        open_upper += weight * (0.0 if cap is None else cap)
        # Inside an open branch, shared components are taken as independent.
        if parent is None:
            prob = search.first().prob
        else:
            prob = search.child_prob(parent, x, fixed)
        assert prob is not None
        open_estimate += weight * prob[st.root]
    return done + open_estimate, done, done + open_upper, steps, False

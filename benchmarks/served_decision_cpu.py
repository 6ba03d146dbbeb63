"""CPU per served decision (``DecisionState.decide``, the service's per-request decision work
without HTTP), each decision followed by an impression of the banner it chose, as a CMS shows it.

    python benchmarks/served_decision_cpu.py . softmax thompson       # project root, then policies

The impression counts toward the user's frequency cap and, committed, moves the feedback counts
Thompson reads. To compare releases in one sitting, run it from another checkout
(``git worktree add /tmp/old REV``; ``python benchmarks/served_decision_cpu.py /tmp/old softmax``):
the first argument is both the project and the code that runs.
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import time
from pathlib import Path


def main() -> None:
    root = Path(sys.argv[1]).resolve()
    sys.path.insert(0, str(root))  # that checkout's bannergen
    from bannergen.config import load_project
    from bannergen.pipeline import Engine
    from bannergen.service.state import DecisionState

    engine = Engine(load_project(root))
    state = DecisionState.build(engine)
    users = list(state.users)[:300]
    view = engine.feedback
    for name in sys.argv[2:] or ["softmax"]:
        if hasattr(state, "decision_policy"):
            state.decision_policy = dataclasses.replace(state.decision_policy, name=name)
        else:  # releases before the decision kernel read the policy from here
            state.selection = type(engine.model.settings.selection)(name, 0.1, 5)
        for user in users:
            state.decide(user, "1200x400")
        per_decision = []
        for _ in range(3):
            start = time.process_time()
            for user in users:
                choice = state.decide(user, "1200x400")
                key = (user, choice.item_id, choice.template_id)  # the CMS shows it: one impression
                view.today[key] = view.today.get(key, 0) + 1
                if hasattr(view, "version"):
                    view.version += 1  # committed: the counts moved
                    view.user_today[user] = view.user_today.get(user, 0) + 1
            per_decision.append((time.process_time() - start) / len(users))
        view.today.clear()
        if hasattr(view, "user_today"):
            view.user_today.clear()
        print(f"{root.name:<12} {name:<9} {statistics.median(per_decision) * 1e6:6.0f} us CPU per decision "
              "(median of 3 passes over 300 users)")


if __name__ == "__main__":
    main()

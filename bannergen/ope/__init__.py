"""Off-policy evaluation over logged decisions, and a simulator with known truth.

Kept apart as in zr-obp: the decision log (decision_log.py) and the feedback join to it
(logged.py) make the logged record; target policies (targets.py) are distributions over each
decision's own candidates, computed by the one decision kernel (bannergen.selection.kernel);
estimators (estimators.py, evaluate.py, reward_model.py) only see that record; the simulator
(simulator.py) produces logs with a known truth to test all of them.
"""

from bannergen.ope.decision_log import banner_index, known_decision_ids, load_decision_log
from bannergen.ope.estimators import Estimate, OPEResult, estimate
from bannergen.ope.evaluate import evaluate_file, evaluate_policy
from bannergen.ope.logged import LoggedDecisions, join_decisions
from bannergen.ope.reward_model import RewardModel
from bannergen.ope.simulator import ClickModel, SimulatedLog, simulate
from bannergen.ope.targets import TARGET_POLICIES, read_target_file, reference_target

__all__ = [
    "TARGET_POLICIES", "ClickModel", "Estimate", "LoggedDecisions", "OPEResult", "RewardModel", "SimulatedLog",
    "banner_index", "estimate", "evaluate_file", "evaluate_policy", "join_decisions", "known_decision_ids",
    "load_decision_log", "read_target_file", "reference_target", "simulate",
]

"""loyaltycore: loyalty-program primitives done right.

Points ledgers with expiry, tier programs, earning and promotion rules, member
accounts and their stores, lifecycle stages, segments, KPI calculators and
customer-lifetime-value models, as pure, immutable, deterministic values.

The main types and entry points are importable from here; every module also
stands on its own (``loyaltycore.metrics`` for the KPI calculators,
``loyaltycore.errors`` for every error, ``loyaltycore.testing`` for the
hypothesis strategies, ``loyaltycore.simulate`` and ``loyaltycore.report``).
Importing loyaltycore loads none of the optional extras.

>>> import loyaltycore
>>> ledger = loyaltycore.PointsLedger.open("m-1")
>>> isinstance(loyaltycore.__version__, str), ledger.balance().available
(True, 0)
"""

from loyaltycore._compiled import compiled
from loyaltycore._version import __version__
from loyaltycore.accounts import Account, Program
from loyaltycore.clv import BetaGeo, GammaGamma, ParetoNBD, customer_lifetime_value
from loyaltycore.errors import LoyaltyError
from loyaltycore.lifecycle import (
    AbsoluteDays,
    CycleMultiple,
    LifecyclePolicy,
    ProbabilityAlive,
    Stage,
    journey,
    stage,
    stages,
    transition_matrix,
)
from loyaltycore.points import (
    Balance,
    ExpireAfter,
    ExpireAtPeriodEnd,
    ExpireOnInactivity,
    Hold,
    Lot,
    NeverExpire,
    PointsLedger,
    Statement,
    merge,
    transfer,
)
from loyaltycore.predicates import Always, Event, Item, Member, Predicate, field
from loyaltycore.rules import (
    Evaluation,
    FixedPoints,
    Limit,
    Multiplier,
    PointsPerSpend,
    Rule,
    RuleSet,
    TierMultiplier,
)
from loyaltycore.segments import (
    RFM_SEGMENTS,
    BehaviourPolicy,
    Segment,
    SegmentMap,
    SegmentSet,
    behaviour_segments,
    check_coverage,
    cluster_rfm,
    rfm_scores,
    value_segments,
)
from loyaltycore.stores import SQLiteStore
from loyaltycore.tiers import (
    Activity,
    AllOf,
    Anniversary,
    AnyOf,
    Benefits,
    CalendarYear,
    Lifetime,
    Rolling,
    Tier,
    TierDecision,
    TierProgram,
    TierStatus,
    at_least,
)
from loyaltycore.transactions import Facts, Summary, TransactionLog, calibration_holdout, summarize

__all__ = [
    "AbsoluteDays",
    "Account",
    "Activity",
    "AllOf",
    "Always",
    "Anniversary",
    "AnyOf",
    "Balance",
    "BehaviourPolicy",
    "Benefits",
    "BetaGeo",
    "CalendarYear",
    "CycleMultiple",
    "Evaluation",
    "Event",
    "ExpireAfter",
    "ExpireAtPeriodEnd",
    "ExpireOnInactivity",
    "Facts",
    "FixedPoints",
    "GammaGamma",
    "Hold",
    "Item",
    "LifecyclePolicy",
    "Lifetime",
    "Limit",
    "Lot",
    "LoyaltyError",
    "Member",
    "Multiplier",
    "NeverExpire",
    "ParetoNBD",
    "PointsLedger",
    "PointsPerSpend",
    "Predicate",
    "ProbabilityAlive",
    "Program",
    "RFM_SEGMENTS",
    "Rolling",
    "Rule",
    "RuleSet",
    "SQLiteStore",
    "Segment",
    "SegmentMap",
    "SegmentSet",
    "Stage",
    "Statement",
    "Summary",
    "Tier",
    "TierDecision",
    "TierMultiplier",
    "TierProgram",
    "TierStatus",
    "TransactionLog",
    "__version__",
    "at_least",
    "behaviour_segments",
    "calibration_holdout",
    "check_coverage",
    "cluster_rfm",
    "compiled",
    "customer_lifetime_value",
    "field",
    "journey",
    "merge",
    "rfm_scores",
    "stage",
    "stages",
    "summarize",
    "transfer",
    "transition_matrix",
    "value_segments",
]

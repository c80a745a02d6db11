"""loyaltycore: loyalty-program primitives done right.

Points ledgers with expiry, tier programs, earning and promotion rules, member
lifecycle stages, segments, KPI calculators and customer-lifetime-value models,
as pure, immutable, deterministic values.

>>> import loyaltycore
>>> isinstance(loyaltycore.__version__, str)
True
"""

from loyaltycore._version import __version__
from loyaltycore.errors import LoyaltyError

__all__ = ["LoyaltyError", "__version__"]

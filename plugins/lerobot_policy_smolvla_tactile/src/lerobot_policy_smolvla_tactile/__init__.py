"""LeRobot policy plugin: ``--policy.type=smolvla_tactile`` (SmolVLA with touch and arm/hand heads).

Stock ``lerobot-train`` / ``lerobot-eval`` import every installed ``lerobot_policy_*`` distribution
(``register_third_party_plugins``); importing this package registers the config type. The policy class is
found by LeRobot's naming convention (``configuration_`` -> ``modeling_``) and is imported lazily here too.
lerobot catches plugin import errors and goes on (a broken install would surface later as "unknown policy
type"), so a failed import is logged here at ERROR with its cause and re-raised.
"""

import logging

try:
    from .configuration_smolvla_tactile import SmolVLATactileConfig, TactileTokenization
except Exception as exc:
    logging.getLogger(__name__).error(
        "lerobot_policy_smolvla_tactile: importing its config failed (%s: %s): --policy.type=smolvla_tactile is "
        "NOT registered. Reinstall with pip install 'lerobot[smolvla]' or fix the error above.",
        type(exc).__name__, exc,
    )  # fmt: skip
    raise

__all__ = ["SmolVLATactileConfig", "SmolVLATactilePolicy", "TactileTokenization", "make_smolvla_tactile_pre_post_processors"]


def __getattr__(name: str):
    if name == "SmolVLATactilePolicy":
        from .modeling_smolvla_tactile import SmolVLATactilePolicy

        return SmolVLATactilePolicy
    if name == "make_smolvla_tactile_pre_post_processors":
        from .processor_smolvla_tactile import make_smolvla_tactile_pre_post_processors

        return make_smolvla_tactile_pre_post_processors
    raise AttributeError(name)

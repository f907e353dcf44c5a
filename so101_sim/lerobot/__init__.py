"""LeRobot 0.4.4 registrations: env types ``so101`` and ``hub``, policy types ``so101_scripted`` and ``flow_mlp``.

Imported by the plugin distribution ``lerobot_policy_so101`` (see ``plugins/``), which stock ``lerobot-*``
commands import by themselves (0.4.4 discovers ``lerobot_policy_*`` distributions; it has no env prefix yet).
The simulated robot lives in :mod:`so101_sim.lerobot.robot` and is imported by ``lerobot_robot_so101_sim``.
"""

from so101_sim.lerobot.env_config import SO101EnvConfig  # noqa: F401
from so101_sim.lerobot.hub_env import HubEnv  # noqa: F401
from so101_sim.lerobot.policy.configuration_so101_scripted import SO101ScriptedConfig  # noqa: F401
from so101_sim.lerobot.policy.configuration_flow_mlp import FlowMLPConfig  # noqa: F401

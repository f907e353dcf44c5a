"""Imported by lerobot's ``register_third_party_plugins()`` (LeRobot >= 0.6 discovers ``lerobot_env_*``).

Registers the env types ``so101`` / ``so101_sim`` (the SO-101 simulation; on 0.6 it builds its own vector envs
through ``EnvConfig.create_envs``, async included, and declares its env processors) and ``hub`` (any EnvHub
repository). lerobot catches plugin import errors and goes on, so a failed import is logged at ERROR and
re-raised: otherwise a broken install would only show later as "unknown env type".
"""

from so101_sim.plugin_errors import loud_import_failure

with loud_import_failure(
    __name__,
    "so101_sim's env types",
    "--env.type=so101/so101_sim/hub are NOT registered",
    "Reinstall so101-sim with its LeRobot extra",
):
    from so101_sim.lerobot.env_config import SO101EnvConfig  # noqa: F401
    from so101_sim.lerobot.hub_env import HubEnv  # noqa: F401

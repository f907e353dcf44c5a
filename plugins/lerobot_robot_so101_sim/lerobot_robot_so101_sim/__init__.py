"""Imported by lerobot's ``register_third_party_plugins()``: the simulated SO-101 robot and its teleoperators
(``so101_sim_expert``, ``so101_keyboard``, ``so101_keyboard_ee``, ``so101_gamepad``).

lerobot catches plugin import errors and goes on, so a broken install would surface later as "unknown robot
type"; a failed import is therefore logged here at ERROR, naming what is missing and the cause, and re-raised.
"""

from so101_sim.plugin_errors import loud_import_failure

with loud_import_failure(
    __name__,
    "so101_sim.lerobot.robot",
    "--robot.type=so101_sim and the so101_sim teleoperators are NOT registered",
    "Reinstall so101-sim with its LeRobot extra (pip install 'so101-sim[lerobot]')",
):
    from so101_sim.lerobot.robot import SO101Sim, SO101SimConfig, SO101SimExpert, SO101SimExpertConfig  # noqa: F401
    from so101_sim.lerobot.teleop import SO101Gamepad, SO101Keyboard, SO101KeyboardEE  # noqa: F401

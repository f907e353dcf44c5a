"""The simulated SO-101 follower robot and the expert teleoperator (LeRobot robot/teleoperator registries)."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from lerobot.robots.robot import Robot
from lerobot.robots.utils import ensure_safe_goal_position
from lerobot.teleoperators.teleoperator import Teleoperator

from so101_sim import adapters
from so101_sim.lerobot.robot.config_so101_sim import SO101SimConfig, SO101SimExpertConfig
from so101_sim.mujoco.scene import CONTROL_HZ

logger = logging.getLogger(__name__)
_CONNECTED: dict[str, "SO101Sim"] = {}


class NotConnectedError(ConnectionError):
    pass


class SimCamera:
    """A scene camera seen as a LeRobot camera (lerobot-record sizes its image writers from ``robot.cameras``)."""

    def __init__(self, robot: "SO101Sim", sim_name: str, height: int, width: int) -> None:
        self._robot, self.sim_name = robot, sim_name
        self.height, self.width, self.fps = height, width, CONTROL_HZ

    @property
    def is_connected(self) -> bool:
        return self._robot.is_connected

    def read(self) -> np.ndarray:
        self._robot._require()
        return self._robot._obs["pixels"][self.sim_name]

    async_read = read
    read_latest = read


class SO101Sim(Robot):
    """``so101_follower``'s interface over the MuJoCo simulation.

    Observation: ``{motor}.pos`` floats in so101_follower units (degrees, gripper 0-100; or -100..100 with
    ``use_degrees=false``) and one ``(H, W, 3)`` uint8 image per camera. Action: ``{motor}.pos`` goal positions.
    Each ``send_action`` advances the simulation by one 30 Hz control step; with ``real_time`` the calls are
    paced so simulated time follows the wall clock.
    """

    config_class = SO101SimConfig
    name = "so101_sim"

    def __init__(self, config: SO101SimConfig) -> None:
        super().__init__(config)
        self.config = config
        self.env = None
        self._obs: dict[str, Any] | None = None
        self._episode = 0
        self._steps = 0
        self._success_at: int | None = None
        self._last_step_wall: float | None = None
        self.cameras = {
            self._camera_key(c): SimCamera(self, c, config.image_height, config.image_width) for c in config.cameras
        }

    # ----------------------------------------------------------------- features
    def _camera_key(self, sim_camera: str) -> str:
        return self.config.camera_names.get(sim_camera, sim_camera)

    @property
    def _motors_ft(self) -> dict[str, type]:
        return {f"{m}.pos": float for m in adapters.JOINT_NAMES}

    @property
    def observation_features(self) -> dict:
        cams = {self._camera_key(c): (self.config.image_height, self.config.image_width, 3) for c in self.config.cameras}
        return {**self._motors_ft, **cams}

    @property
    def action_features(self) -> dict:
        return self._motors_ft

    # ----------------------------------------------------------------- lifecycle
    @property
    def is_connected(self) -> bool:
        return self.env is not None

    def connect(self, calibrate: bool = True) -> None:
        import gymnasium as gym

        import so101_sim  # noqa: F401

        size = (self.config.image_height, self.config.image_width)
        self.env = gym.make(
            f"so101_sim/{self.config.task}",
            cameras=tuple(self.config.cameras),
            image_size=size,
            units=self.config.units,
            render_preset=self.config.render_preset,
            episode_length=10**9,  # the robot runs until disconnected; resets are ours (see config)
        )
        self._reset_scene()
        _CONNECTED[self.id or "default"] = self
        logger.info("%s connected (simulated %s)", self, self.config.task)

    def _reset_scene(self) -> None:
        seed = None if self.config.seed is None else self.config.seed + self._episode
        self._obs, _ = self.env.reset(seed=seed)
        self._episode += 1
        self._steps = 0
        self._success_at = None

    @property
    def is_calibrated(self) -> bool:
        return True

    def calibrate(self) -> None:
        """Nothing to calibrate: simulated encoders are exact."""

    def configure(self) -> None:
        """Nothing to configure."""

    def disconnect(self) -> None:
        if self.env is not None:
            self.env.close()
            self.env = None
        _CONNECTED.pop(self.id or "default", None)

    # ----------------------------------------------------------------- I/O
    def _require(self) -> None:
        if self.env is None:
            raise NotConnectedError(f"{self} is not connected; call connect() first")

    def _motor_values(self) -> np.ndarray:
        return np.asarray(self._obs["agent_pos"], dtype=np.float64)

    def get_observation(self) -> dict[str, Any]:
        self._require()
        obs: dict[str, Any] = adapters.vector_to_motor_dict(self._motor_values())
        for key, cam in self.cameras.items():
            obs[key] = cam.read()
        return obs

    def send_action(self, action: dict[str, Any]) -> dict[str, Any]:
        self._require()
        goal = {k: float(v) for k, v in action.items() if k.endswith(".pos")}
        if self.config.max_relative_target is not None:
            present = adapters.vector_to_motor_dict(self._motor_values())
            pairs = {k.removesuffix(".pos"): (g, present[k]) for k, g in goal.items()}
            safe = ensure_safe_goal_position(pairs, self.config.max_relative_target)
            goal = {f"{k}.pos": v for k, v in safe.items()}
        # Motors not named in the action keep their current goal, like a servo bus write of a subset.
        current = adapters.vector_to_motor_dict(
            adapters.radians_to_units(
                self.env.unwrapped.data.ctrl[self.env.unwrapped.idx.actuators], self.config.units
            )
        )
        current.update(goal)
        target = adapters.motor_dict_to_vector(current)
        self._pace()
        self._obs, _, terminated, _, info = self.env.step(target.astype(np.float32))
        self._steps += 1
        self._maybe_reset(bool(info.get("is_success")) or terminated)
        return goal

    def _pace(self) -> None:
        if not self.config.real_time:
            return
        now = time.perf_counter()
        if self._last_step_wall is not None:
            wait = 1.0 / CONTROL_HZ - (now - self._last_step_wall)
            if wait > 0:
                time.sleep(wait)
        self._last_step_wall = time.perf_counter()

    def _maybe_reset(self, solved: bool) -> None:
        fps = float(CONTROL_HZ)
        if solved and self._success_at is None:
            self._success_at = self._steps
        if self._success_at is not None and (self._steps - self._success_at) / fps >= self.config.reset_after_success_s:
            self._reset_scene()
        elif self.config.episode_time_s > 0 and self._steps / fps >= self.config.episode_time_s:
            self._reset_scene()


class SO101SimExpert(Teleoperator):
    """Scripted expert acting as a leader arm for the connected ``so101_sim`` robot (no hardware)."""

    config_class = SO101SimExpertConfig
    name = "so101_sim_expert"

    def __init__(self, config: SO101SimExpertConfig) -> None:
        super().__init__(config)
        self.config = config
        self._expert = None
        self._episode_seen = -1

    @property
    def action_features(self) -> dict:
        return {f"{m}.pos": float for m in adapters.JOINT_NAMES}

    @property
    def feedback_features(self) -> dict:
        return {}

    @property
    def is_connected(self) -> bool:
        return self._expert is not None

    def connect(self, calibrate: bool = True) -> None:
        self._expert = "pending"  # bound to the robot lazily: lerobot connects the robot first or second

    @property
    def is_calibrated(self) -> bool:
        return True

    def calibrate(self) -> None:
        pass

    def configure(self) -> None:
        pass

    def _robot(self) -> SO101Sim:
        key = self.config.robot_id or next(iter(_CONNECTED), None)
        if key is None or key not in _CONNECTED:
            raise NotConnectedError("so101_sim_expert drives a connected --robot.type=so101_sim in the same process")
        return _CONNECTED[key]

    def get_action(self) -> dict[str, float]:
        from so101_sim.mujoco.expert import ScriptedExpert

        robot = self._robot()
        if not isinstance(self._expert, ScriptedExpert):
            self._expert = ScriptedExpert(
                robot.config.task, units=robot.config.units, cube_pose_noise=tuple(self.config.cube_pose_noise)
            )
        if robot._episode != self._episode_seen:
            self._expert.reset()
            self._episode_seen = robot._episode
        obs = robot._obs
        action = self._expert.act(obs["agent_pos"], obs["environment_state"])
        return adapters.vector_to_motor_dict(action)

    def send_feedback(self, feedback: dict[str, Any]) -> None:
        pass

    def disconnect(self) -> None:
        self._expert = None

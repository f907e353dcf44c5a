"""The simulated SO-101 follower robot and the expert teleoperator (LeRobot robot/teleoperator registries)."""

from __future__ import annotations

import logging
import statistics
import sys
import time
from typing import Any

import numpy as np
from lerobot.robots.robot import Robot
from lerobot.robots.utils import ensure_safe_goal_position
from lerobot.teleoperators.teleoperator import Teleoperator
from lerobot.utils.errors import DeviceAlreadyConnectedError, DeviceNotConnectedError

from so101_sim import adapters
from so101_sim.lerobot.robot.config_so101_sim import SO101SimConfig, SO101SimExpertConfig

logger = logging.getLogger(__name__)
_CONNECTED: dict[str, SO101Sim] = {}

JOINT_ACTION_KEYS = tuple(f"{m}.pos" for m in adapters.JOINT_NAMES)
EE_ACTION_KEYS = ("delta_x", "delta_y", "delta_z", "gripper")
GRIPPER_CLOSE, GRIPPER_STAY, GRIPPER_OPEN = 0.0, 1.0, 2.0  # LeRobot keyboard_ee / gamepad gripper commands
_PACE_CHECK_FRAMES = 30  # frames after which real-time pacing checks that frames arrive at the robot's fps


def recording_fps_from_command_line(argv: list[str] | None = None) -> float | None:
    """``--dataset.fps`` of the lerobot-record command running this process, when it was given on the command line.

    lerobot-record never tells the robot its rate; reading it back lets a mismatch fail loudly at connect instead
    of recording motion at the wrong speed.
    """
    args = sys.argv[1:] if argv is None else argv
    for i, arg in enumerate(args):
        value = arg.split("=", 1)[1] if arg.startswith("--dataset.fps=") else None
        if arg == "--dataset.fps" and i + 1 < len(args):
            value = args[i + 1]
        if value is not None:
            try:
                return float(value)
            except ValueError:
                return None  # lerobot's own parser reports it
    return None


def connected_sim_robot(robot_id: str | None = None, who: str = "this teleoperator") -> SO101Sim:
    """The ``so101_sim`` robot connected in this process (``robot_id`` picks one when several are)."""
    key = robot_id or next(iter(_CONNECTED), None)
    if key is None or key not in _CONNECTED:
        raise DeviceNotConnectedError(
            f"{who} drives a connected --robot.type=so101_sim in the same process"
            + (f" (no robot with id {robot_id!r}; connected: {sorted(_CONNECTED)})" if robot_id else "")
        )
    return _CONNECTED[key]


class SimCamera:
    """A scene camera seen as a LeRobot camera (lerobot-record sizes its image writers from ``robot.cameras``)."""

    def __init__(self, robot: SO101Sim, sim_name: str, height: int, width: int, fps: int) -> None:
        self._robot, self.sim_name = robot, sim_name
        self.height, self.width, self.fps = height, width, fps

    @property
    def is_connected(self) -> bool:
        return self._robot.is_connected

    def read(self) -> np.ndarray:
        return self._robot.sim_observation["pixels"][self.sim_name]

    async_read = read
    read_latest = read


class SO101Sim(Robot):
    """``so101_follower``'s interface over the MuJoCo simulation.

    Observation: ``{motor}.pos`` floats in so101_follower units (degrees, gripper 0-100; or -100..100 with
    ``use_degrees=false``) and one ``(H, W, 3)`` uint8 image per camera. Action (``control_mode``):
    ``{motor}.pos`` goal positions, or LeRobot's end-effector commands ``delta_x/y/z`` + ``gripper``. An action
    with any other key is an error naming the keys expected. Each ``send_action`` advances the simulation by
    ``1 / fps`` s; with ``real_time`` the calls are paced so simulated time follows the wall clock.
    """

    config_class = SO101SimConfig
    name = "so101_sim"

    def __init__(self, config: SO101SimConfig) -> None:
        super().__init__(config)
        self.config = config
        self.env = None
        self._obs: dict[str, Any] | None = None
        self._goal: np.ndarray | None = None  # last joint goal, robot units (joint mode)
        self._gripper_goal = 0.0  # ee_delta mode, robot units
        self._episode = 0
        self._steps = 0
        self._success_at: int | None = None
        self._reset_requested = False
        self._last_step_wall: float | None = None
        self._frame_periods: list[float] | None = []
        self._key_listener = None
        self.cameras = {
            self._camera_key(c): SimCamera(self, c, config.image_height, config.image_width, config.fps)
            for c in config.cameras
        }

    # ----------------------------------------------------------------- features
    def _camera_key(self, sim_camera: str) -> str:
        return self.config.camera_names.get(sim_camera, sim_camera)

    @property
    def _motors_ft(self) -> dict[str, type]:
        return dict.fromkeys(JOINT_ACTION_KEYS, float)

    @property
    def observation_features(self) -> dict:
        cams = {
            self._camera_key(c): (self.config.image_height, self.config.image_width, 3) for c in self.config.cameras
        }
        return {**self._motors_ft, **cams}

    @property
    def action_features(self) -> dict:
        if self.config.control_mode == "ee_delta":
            return dict.fromkeys(EE_ACTION_KEYS, float)
        return self._motors_ft

    # ----------------------------------------------------------------- lifecycle
    @property
    def is_connected(self) -> bool:
        return self.env is not None

    def connect(self, calibrate: bool = True) -> None:
        if self.is_connected:
            raise DeviceAlreadyConnectedError(f"{self} is already connected; call disconnect() first")
        recording_fps = recording_fps_from_command_line()
        if recording_fps is not None and recording_fps != self.config.fps:
            raise ValueError(
                f"{self}: the dataset is recorded at --dataset.fps={recording_fps:g} but each frame would advance the "
                f"simulation by 1/{self.config.fps} s (--robot.fps={self.config.fps}): pass --robot.fps="
                f"{recording_fps:g} too, so that a frame is 1/fps of simulated time."
            )
        import gymnasium as gym

        import so101_sim  # noqa: F401

        if self.config.viewer:
            from so101_sim.commands.view import headless_reason

            reason = headless_reason()
            if reason:
                raise DeviceNotConnectedError(
                    f"{self}: --robot.viewer=true opens MuJoCo's viewer, which needs a screen: {reason}. Leave it off "
                    "here (lerobot's --display_data=true shows the cameras in rerun instead)."
                )
        size = (self.config.image_height, self.config.image_width)
        ee = self.config.control_mode == "ee_delta"
        self.env = gym.make(
            f"so101_sim/{self.config.task}",
            cameras=tuple(self.config.cameras),
            image_size=size,
            units=self.config.units,
            render_preset=self.config.render_preset,
            control_hz=self.config.fps,  # refuses a rate the physics step cannot divide
            control_mode=self.config.control_mode,
            max_ee_step=self.config.ee_speed_m_s / self.config.fps if ee else 0.02,
            episode_length=10**9,  # the robot runs until disconnected; resets are ours (see config)
            render_mode="human" if self.config.viewer else None,  # the env syncs the viewer every step
        )
        self._reset_scene()
        if self.config.reset_on_record_keys:
            self._key_listener = self._listen_to_record_keys()
        _CONNECTED[self.id or "default"] = self
        logger.info("%s connected (simulated %s at %s Hz)", self, self.config.task, self.config.fps)

    def _reset_scene(self) -> None:
        seed = None if self.config.seed is None else self.config.seed + self._episode
        self._obs, _ = self.env.reset(seed=seed)
        self._goal = np.asarray(self._obs["agent_pos"], dtype=np.float64).copy()
        self._gripper_goal = float(self._goal[adapters.GRIPPER_INDEX])
        self._episode += 1
        self._steps = 0
        self._success_at = None
        self._reset_requested = False

    def _listen_to_record_keys(self):
        """A pynput listener for lerobot-record's right/left arrows (it has its own; robots get no event)."""
        try:
            from pynput import keyboard
        # No desktop session (ImportError or a platform error): lerobot-record has no episode keys then either.
        except Exception as exc:  # noqa: BLE001
            logger.warning("%s: reset_on_record_keys needs a keyboard (pynput: %s); ignored", self, exc)
            return None

        def on_press(key) -> None:
            if key in (keyboard.Key.right, keyboard.Key.left) and self.is_connected:
                self.request_reset()

        listener = keyboard.Listener(on_press=on_press)
        listener.start()
        return listener

    def request_reset(self) -> None:
        """Re-place the cube and return the arm home after the current step (a teleoperator's reset key)."""
        self._require()
        self._reset_requested = True

    @property
    def is_calibrated(self) -> bool:
        return True

    def calibrate(self) -> None:
        """Nothing to calibrate: simulated encoders are exact."""

    def configure(self) -> None:
        """Nothing to configure."""

    def disconnect(self) -> None:
        if not self.is_connected:
            raise DeviceNotConnectedError(f"{self} is not connected")
        if self._key_listener is not None:
            self._key_listener.stop()
            self._key_listener = None
        self.env.close()
        self.env = None
        if _CONNECTED.get(self.id or "default") is self:  # another robot may have taken the id since
            del _CONNECTED[self.id or "default"]

    # ----------------------------------------------------------------- state for teleoperators
    def _require(self) -> None:
        if self.env is None:
            raise DeviceNotConnectedError(f"{self} is not connected; call connect() first")

    @property
    def sim_observation(self) -> dict[str, Any]:
        """The latest raw env observation (``agent_pos``, ``environment_state``, ``pixels``): privileged state."""
        self._require()
        return self._obs

    @property
    def episode(self) -> int:
        """Counts scene resets (1 after connect); teleoperators re-sync their targets when it changes."""
        return self._episode

    def gripper_frame_position(self) -> np.ndarray:
        """World position (m) of the ``gripperframe`` site (between the jaw tips), for tests and tools."""
        self._require()
        env = self.env.unwrapped
        return env.data.site_xpos[env.idx.gripper_site].copy()

    # ----------------------------------------------------------------- I/O
    def get_observation(self) -> dict[str, Any]:
        self._require()
        obs: dict[str, Any] = adapters.vector_to_motor_dict(self._obs["agent_pos"].astype(np.float64))
        for key, cam in self.cameras.items():
            obs[key] = cam.read()
        return obs

    def _check_keys(self, action: dict[str, Any]) -> None:
        allowed = EE_ACTION_KEYS if self.config.control_mode == "ee_delta" else JOINT_ACTION_KEYS
        unknown = sorted(set(action) - set(allowed))
        if not unknown:
            return
        hint = ""
        if self.config.control_mode == "joint" and set(action) & set(EE_ACTION_KEYS):
            hint = " End-effector teleoperators (keyboard_ee, gamepad) need --robot.control_mode=ee_delta."
        elif self.config.control_mode == "ee_delta" and set(action) & set(JOINT_ACTION_KEYS):
            hint = " Joint-space teleoperators (leader arm, so101_keyboard, so101_gamepad) need --robot.control_mode=joint."
        raise ValueError(
            f"{self} (control_mode={self.config.control_mode!r}) got action keys {unknown} it does not know; "
            f"expected {list(allowed)}.{hint}"
        )

    def send_action(self, action: dict[str, Any]) -> dict[str, Any]:
        self._require()
        self._check_keys(action)
        if self.config.control_mode == "ee_delta":
            sent, env_action = self._ee_action(action)
        else:
            sent, env_action = self._joint_action(action)
        self._pace()
        self._obs, _, terminated, _, info = self.env.step(env_action)
        self._steps += 1
        self._maybe_reset(bool(info.get("is_success")) or terminated)
        return sent

    def _joint_action(self, action: dict[str, Any]) -> tuple[dict[str, float], np.ndarray]:
        goal = {k: float(v) for k, v in action.items()}
        if self.config.max_relative_target is not None:
            # so101_follower caps each motor's step from its present position; all motors, so a per-motor
            # dict matches the keys lerobot's ensure_safe_goal_position requires.
            present = adapters.vector_to_motor_dict(self._obs["agent_pos"].astype(np.float64))
            full = {**adapters.vector_to_motor_dict(self._goal), **goal}
            pairs = {k.removesuffix(".pos"): (full[k], present[k]) for k in JOINT_ACTION_KEYS}
            safe = ensure_safe_goal_position(pairs, self.config.max_relative_target)
            goal = {f"{k}.pos": safe[k] for k in (g.removesuffix(".pos") for g in goal)}
        # Motors not named in the action keep their current goal, like a servo bus write of a subset.
        current = adapters.vector_to_motor_dict(self._goal)
        current.update(goal)
        self._goal = adapters.motor_dict_to_vector(current)
        return goal, self._goal.astype(np.float32)

    def _ee_action(self, action: dict[str, Any]) -> tuple[dict[str, float], np.ndarray]:
        missing = [k for k in EE_ACTION_KEYS[:3] if k not in action]
        if missing:
            raise ValueError(f"{self} (control_mode='ee_delta') needs {list(EE_ACTION_KEYS)}; missing {missing}")
        cmd = np.array([float(action[k]) for k in EE_ACTION_KEYS[:3]])
        if not np.all(np.isfinite(cmd)):
            raise ValueError(f"end-effector command must be finite, got {cmd}")
        cmd = np.clip(cmd, -1.0, 1.0)
        grip = float(action.get("gripper", GRIPPER_STAY))
        if not GRIPPER_CLOSE <= grip <= GRIPPER_OPEN:
            raise ValueError(f"gripper command must be in [0, 2] (0 close, 1 stay, 2 open), got {grip}")
        fps = float(self.config.fps)
        step = cmd * (self.config.ee_speed_m_s / fps)
        low, high = adapters.units_bounds(self.config.units)
        g = self._gripper_goal + (grip - GRIPPER_STAY) * self.config.gripper_speed / fps
        self._gripper_goal = float(np.clip(g, low[adapters.GRIPPER_INDEX], high[adapters.GRIPPER_INDEX]))
        sent = {"delta_x": float(cmd[0]), "delta_y": float(cmd[1]), "delta_z": float(cmd[2]), "gripper": grip}
        return sent, np.array([*step, self._gripper_goal], dtype=np.float32)

    def _pace(self) -> None:
        if not self.config.real_time:
            return
        period = 1.0 / self.config.fps
        now = time.perf_counter()
        if self._last_step_wall is not None:
            gap = now - self._last_step_wall
            if gap < period:
                time.sleep(period - gap)
            self._check_frame_rate(gap, period)
        self._last_step_wall = time.perf_counter()

    def _check_frame_rate(self, gap: float, period: float) -> None:
        """Warn once when frames arrive much slower than 1/fps: the recording would be in slow motion."""
        if self._frame_periods is None:
            return
        self._frame_periods.append(gap)
        if len(self._frame_periods) < _PACE_CHECK_FRAMES:
            return
        median = statistics.median(self._frame_periods)
        self._frame_periods = None
        if median > 1.25 * period:
            logger.warning(
                "%s: frames arrive every %.0f ms (%.1f Hz) but each advances the simulation by 1/%d s: recorded "
                "motion is slower than real time. Pass --robot.fps equal to --dataset.fps / --fps, or lower "
                "the image size if the machine cannot keep up.",
                self, 1e3 * median, 1.0 / median, self.config.fps,
            )  # fmt: skip

    def _maybe_reset(self, solved: bool) -> None:
        fps = float(self.config.fps)
        if solved and self._success_at is None:
            self._success_at = self._steps
        if (
            self._reset_requested
            or self._success_at is not None
            and (self._steps - self._success_at) / fps >= self.config.reset_after_success_s
            or self.config.episode_time_s > 0
            and self._steps / fps >= self.config.episode_time_s
        ):
            self._reset_scene()


class HardwareFreeTeleoperator(Teleoperator):
    """Base of the teleoperators that drive the simulated robot: nothing to calibrate, configure or feed back.

    Subclasses give ``action_features``, ``is_connected``, ``connect``, ``disconnect`` and ``get_action``.
    """

    @property
    def feedback_features(self) -> dict:
        return {}

    @property
    def is_calibrated(self) -> bool:
        return True

    def calibrate(self) -> None:
        pass

    def configure(self) -> None:
        pass

    def send_feedback(self, feedback: dict[str, Any]) -> None:
        pass


class SO101SimExpert(HardwareFreeTeleoperator):
    """Scripted expert acting as a leader arm for the connected ``so101_sim`` robot (no hardware)."""

    config_class = SO101SimExpertConfig
    name = "so101_sim_expert"

    def __init__(self, config: SO101SimExpertConfig) -> None:
        super().__init__(config)
        self.config = config
        self._connected = False
        self._expert = None  # ScriptedExpert, built at the first action (lerobot connects the robot 1st or 2nd)
        self._episode_seen = -1

    @property
    def action_features(self) -> dict:
        return dict.fromkeys(JOINT_ACTION_KEYS, float)

    @property
    def is_connected(self) -> bool:
        return self._connected

    def connect(self, calibrate: bool = True) -> None:
        if self._connected:
            raise DeviceAlreadyConnectedError(f"{self} is already connected")
        self._connected = True

    def get_action(self) -> dict[str, float]:
        from so101_sim.mujoco.expert import ScriptedExpert

        if not self._connected:
            raise DeviceNotConnectedError(f"{self} is not connected")
        robot = connected_sim_robot(self.config.robot_id, "so101_sim_expert")
        if self._expert is None:
            self._expert = ScriptedExpert(
                robot.config.task, units=robot.config.units, cube_pose_noise=tuple(self.config.cube_pose_noise)
            )
        if robot.episode != self._episode_seen:
            self._expert.reset()
            self._episode_seen = robot.episode
        obs = robot.sim_observation
        action = self._expert.act(obs["agent_pos"], obs["environment_state"])
        return adapters.vector_to_motor_dict(action)

    def disconnect(self) -> None:
        self._connected = False
        self._expert = None

"""The MuJoCo SO-101 environment (one world), registered as ``so101_sim/<Task>-v0`` gymnasium ids.

Usage::

    import gymnasium as gym, so101_sim
    env = gym.make("so101_sim/Lift-v0", cameras=("camera1", "camera2", "camera3"), image_size=256,
                   units="lerobot", control_mode="joint")
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())

Observation (dict):
    ``pixels``             {camera: uint8 (H, W, 3)}, only when ``cameras`` is non-empty
    ``agent_pos``          (6,) float32 joint positions in ``units`` (shoulder_pan ... gripper)
    ``environment_state``  (13,) float32 cube pose and task target (layout: :mod:`so101_sim.tasks`), or the
                           tactile grid when ``environment_state="tactile"``
    ``tactile``            (2, R, C, 3) float32 pad forces in newtons, only when ``tactile=True``; (2, P, 3) with a
                           taxel layout (``tactile_layout="paxini_dp_s2015"``: a real fingertip's 52 taxels)

Action:
    ``control_mode="joint"`` (default): (6,) absolute joint targets in ``units``. Targets outside the joint
        limits are clipped to them (the servos cannot go further either).
    ``control_mode="ee_delta"``: (4,) ``(dx, dy, dz, gripper)`` or, with ``ee_orientation=True``, (7,)
        ``(dx, dy, dz, droll, dpitch, dyaw, gripper)``: a Cartesian step of the gripper frame in metres (and
        radians, world axes), each clipped to ``max_ee_step`` / ``max_ee_rot_step`` per step and the target
        kept inside a workspace box, solved to joint targets by damped least-squares IK; ``gripper`` is an
        absolute gripper target in ``units``.

Bad actions (wrong shape, NaN/inf) raise ``ValueError`` naming the expected shape.

``info`` holds ``is_success`` (every step), ``reward_terms`` (each reward component), ``cube_grasped``.
The episode terminates on success and is truncated after ``episode_length`` control steps. One step advances
the simulation by ``1 / control_hz`` s (default 30 Hz; any rate that is a whole number of 1/240 s physics steps,
see :func:`control_substeps`); the task's default episode length and hold time keep their duration in seconds.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from so101_sim import adapters
from so101_sim.cameras import CAMERAS
from so101_sim.env_wrapper import MujocoEEPoseSource
from so101_sim.mujoco.kinematics import Kinematics
from so101_sim.mujoco.rendering import CameraRenderer, camera_sizes
from so101_sim.mujoco.scene import CONTROL_HZ, N_SUBSTEPS, PHYSICS_DT, SceneIndex, build_model
from so101_sim import tasks
from so101_sim.tasks import (
    ENV_STATE_DIM,
    StepState,
    TaskSpec,
    get_task,
    lifted,
    manipulation_reward,
    reach_reward,
    sample_layout,
)

DEFAULT_CAMERAS = CAMERAS
HOME_QPOS = np.array(tasks.HOME_QPOS)  # radians: gripper above the workspace, jaws closed (both backends)
EE_WORKSPACE_LOW = np.array([0.05, -0.30, 0.005])
EE_WORKSPACE_HIGH = np.array([0.40, 0.30, 0.35])
CONTROL_MODES = ("joint", "ee_delta")


def control_substeps(control_hz: float) -> int:
    """Physics steps per control step at ``control_hz``: ``1 / control_hz`` must be a whole number of physics steps.

    The physics step is fixed (``PHYSICS_DT`` = 1/240 s: the contact tuning depends on it), so the rates a
    simulation can honour exactly are 240 / n: 240, 120, 80, 60, 48, 40, 30, 24, 20, 16, 15, 12, 10, ... Hz.
    """
    if not (isinstance(control_hz, (int, float)) and math.isfinite(control_hz) and control_hz > 0):
        raise ValueError(f"control rate must be a positive number of Hz, got {control_hz!r}")
    n = round(1.0 / (control_hz * PHYSICS_DT))
    if n < 1 or abs(n * PHYSICS_DT * control_hz - 1.0) > 1e-9:
        physics_hz = round(1.0 / PHYSICS_DT)
        honoured = [physics_hz // k for k in range(1, 25) if physics_hz % k == 0]
        raise ValueError(
            f"cannot run the simulation at {control_hz} Hz: one control step must be a whole number of "
            f"{physics_hz} Hz physics steps. Choose one of {honoured} Hz (e.g. --dataset.fps and --robot.fps)."
        )
    return n


class SO101Env(gym.Env):
    metadata = {"render_modes": ["rgb_array", "human"], "render_fps": CONTROL_HZ}

    def __init__(
        self,
        task: str | TaskSpec = "Lift-v0",
        *,
        units: str = "lerobot",
        control_mode: str = "joint",
        ee_orientation: bool = False,
        cameras: tuple[str, ...] | list[str] | None = DEFAULT_CAMERAS,
        image_size: int | tuple[int, int] | dict[str, tuple[int, int]] = 256,
        episode_length: int | None = None,
        instruction: str | None = None,
        render_mode: str | None = None,
        render_camera: str = "camera3",
        render_preset: str = "fast",
        tactile: bool = False,
        tactile_grid: tuple[int, int] = (10, 12),
        tactile_layout: str = "grid",
        environment_state: str = "task",
        max_ee_step: float = 0.02,
        max_ee_rot_step: float = 0.1,
        control_hz: int = CONTROL_HZ,
    ) -> None:
        self.task_spec = task if isinstance(task, TaskSpec) else get_task(task)
        self.units = adapters.check_units(units)
        if control_mode not in CONTROL_MODES:
            raise ValueError(f"control_mode must be one of {CONTROL_MODES}, got {control_mode!r}")
        if environment_state not in ("task", "tactile"):
            raise ValueError(f"environment_state must be 'task' or 'tactile', got {environment_state!r}")
        if environment_state == "tactile" and not tactile:
            raise ValueError("environment_state='tactile' needs tactile=True")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None")
        self.control_mode = control_mode
        # One control step (one step() call) advances the simulation by exactly 1 / control_hz seconds.
        self._n_substeps = control_substeps(control_hz)
        self.control_hz = control_hz
        self.control_dt = self._n_substeps * PHYSICS_DT
        self._step_scale = self._n_substeps / N_SUBSTEPS  # in task steps: TaskSpec counts steps at CONTROL_HZ
        self.metadata = {**self.metadata, "render_fps": control_hz}
        self.ee_orientation = bool(ee_orientation)
        self.camera_sizes = camera_sizes(cameras, image_size)
        self.render_mode = render_mode
        self.render_camera = render_camera
        self.render_preset = render_preset
        self.tactile_enabled = bool(tactile)
        self.tactile_grid = tuple(int(x) for x in tactile_grid)
        self.environment_state_mode = environment_state
        self.max_ee_step = float(max_ee_step)
        self.max_ee_rot_step = float(max_ee_rot_step)
        # lerobot-eval reads these two attributes on the env (no wrapper in between: see so101_sim/__init__.py).
        self._max_episode_steps = int(episode_length or round(self.task_spec.episode_length / self._step_scale))
        self.task_description = instruction or self.task_spec.instruction
        self.task = self.task_description

        # Every camera the renderer draws: the observed ones plus the one render() shows (videos).
        self._render_sizes = dict(self.camera_sizes)
        self._render_sizes.setdefault(render_camera, (256, 256))
        self.model = build_model(render_preset, self._render_sizes)
        self.data = mujoco.MjData(self.model)
        self.idx = SceneIndex.from_model(self.model)
        # Views into MjData's fixed buffers, taken once: attribute access on MjData costs ~1 us per call.
        self._qpos, self._qvel, self._ctrl = self.data.qpos, self.data.qvel, self.data.ctrl
        self._site_xpos, self._sensordata = self.data.site_xpos, self.data.sensordata
        self._touch_adr = self.idx.touch_sensors.tolist()
        self._kin: Kinematics | None = None
        self._renderer: CameraRenderer | None = None
        self._viewer = None
        self._tactile = None
        if self.tactile_enabled:
            from so101_sim.mujoco.tactile import TactilePads

            self._tactile = TactilePads(self.model, grid=self.tactile_grid, layout=tactile_layout)

        # units = radians * scale + offset (precomputed: the step is a hot loop)
        self._u_scale, self._u_offset = adapters.unit_affine(self.units, self.idx.joint_low, self.idx.joint_high)
        low_u, high_u = adapters.units_bounds(self.units, self.idx.joint_low, self.idx.joint_high)
        self._low_u, self._high_u = low_u.astype(np.float32), high_u.astype(np.float32)
        spaces: dict[str, gym.Space] = {}
        if self.camera_sizes:
            spaces["pixels"] = gym.spaces.Dict(
                {c: gym.spaces.Box(0, 255, (h, w, 3), np.uint8) for c, (h, w) in self.camera_sizes.items()}
            )
        spaces["agent_pos"] = gym.spaces.Box(-np.inf, np.inf, (6,), np.float32)
        tactile_shape = self._tactile.shape if self._tactile is not None else (2, *self.tactile_grid, 3)
        env_shape = tactile_shape if environment_state == "tactile" else (ENV_STATE_DIM,)
        spaces["environment_state"] = gym.spaces.Box(-np.inf, np.inf, env_shape, np.float32)
        if self.tactile_enabled:
            spaces["tactile"] = gym.spaces.Box(-np.inf, np.inf, tactile_shape, np.float32)
        self.observation_space = gym.spaces.Dict(spaces)
        if control_mode == "joint":
            self.action_space = gym.spaces.Box(self._low_u, self._high_u, (6,), np.float32)
        else:
            n_rot = 3 if self.ee_orientation else 0
            lo = np.concatenate([[-self.max_ee_step] * 3, [-self.max_ee_rot_step] * n_rot, [self._low_u[5]]])
            hi = np.concatenate([[self.max_ee_step] * 3, [self.max_ee_rot_step] * n_rot, [self._high_u[5]]])
            self.action_space = gym.spaces.Box(lo.astype(np.float32), hi.astype(np.float32), dtype=np.float32)

        self._layout = None
        self._steps = 0
        self._held = 0
        self._ee_target_pos = np.zeros(3)
        self._ee_target_rot = np.eye(3)

    # ------------------------------------------------------------------ helpers
    @property
    def kinematics(self) -> Kinematics:
        if self._kin is None:
            self._kin = Kinematics(self.model, "gripperframe")
        return self._kin

    def ee_pose_source(self, link_name: str | None = None) -> MujocoEEPoseSource:
        return MujocoEEPoseSource(self.model, self.data, link_name or "gripperframe")

    def tactile_feature_names(self, sensor: str = "tactile") -> list[str]:
        """Names of the values of ``obs["tactile"].ravel()``: ``<sensor>.f<k>.p<ii>.<fx|fy|fz>``, as LeRobot's
        Paxini SO-101 robot plugin names a real fingertip's values in ``observation.state`` (docs/tactile.md)."""
        if self._tactile is None:
            raise ValueError("tactile_feature_names() needs tactile=True")
        return self._tactile.feature_names(sensor)

    def cube_grasped(self) -> bool:
        """Both jaws touch the cube (MuJoCo contact sensors, evaluated in the last physics step)."""
        fixed, moving = self._touch_adr
        return bool(self._sensordata[fixed] > 0 and self._sensordata[moving] > 0)

    def _set_cube(self, pos: np.ndarray, yaw: float) -> None:
        a = self.idx.cube_qpos
        self.data.qpos[a : a + 3] = pos
        self.data.qpos[a + 3 : a + 7] = [np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]
        self.data.qvel[self.idx.cube_dof : self.idx.cube_dof + 6] = 0.0

    def _env_state(self) -> np.ndarray:
        """Cube pose (live) + target and start (fixed per episode, written at reset)."""
        a = self.idx.cube_qpos
        self._env_buf[:7] = self._qpos[a : a + 7]
        return self._env_buf.copy()

    PRIVILEGED_STATE_DIM = 41

    def privileged_state(self) -> np.ndarray:
        """(41,) float32 simulator state for an asymmetric RL critic (training only; never a policy input).

        cube position (3), quaternion (4), linear and angular velocity (6); grasp point (3); grasp point minus
        cube (3); joint positions (6, rad) and velocities (6, rad/s); jaw contacts (2: fixed, moving); cube
        start (3) and task target (3); elapsed fraction of the episode (1); held-lifted fraction (1).
        """
        if self._layout is None:
            raise RuntimeError("call reset() before privileged_state()")
        a, d = self.idx.cube_qpos, self.idx.cube_dof
        cube = self._qpos[a : a + 3]
        grasp = self._site_xpos[self.idx.grasp_site]
        fixed, moving = self._touch_adr
        return np.concatenate([
            cube, self._qpos[a + 3 : a + 7], self._qvel[d : d + 6], grasp, grasp - cube,
            self._qpos[self.idx.joint_qpos], self._qvel[self.idx.joint_dof],
            [float(self._sensordata[fixed] > 0), float(self._sensordata[moving] > 0)],
            self._layout.cube_pos, self._layout.target,
            [self._steps / self._max_episode_steps, self._held / max(1, self.task_spec.hold_steps)],
        ]).astype(np.float32)  # fmt: skip

    def _observation(self) -> dict[str, Any]:
        obs: dict[str, Any] = {}
        if self.camera_sizes:
            obs["pixels"] = self._render_cameras()
        q = self._qpos[self.idx.joint_qpos]
        obs["agent_pos"] = (q * self._u_scale + self._u_offset).astype(np.float32)
        tactile = self._tactile.read(self.data) if self._tactile is not None else None  # float32 grids
        obs["environment_state"] = tactile if self.environment_state_mode == "tactile" else self._env_state()
        if tactile is not None:
            obs["tactile"] = tactile
        return obs

    def _render_cameras(self) -> dict[str, np.ndarray]:
        return self._camera_renderer().render_all(self.data, list(self.camera_sizes))

    def _camera_renderer(self) -> CameraRenderer:
        if self._renderer is None:
            self._renderer = CameraRenderer(self.model, self._render_sizes)
        return self._renderer

    def _step_state(self) -> StepState:
        a = self.idx.cube_qpos
        v = self._qvel[self.idx.cube_dof : self.idx.cube_dof + 3]
        site = self.idx.gripper_site if self.task_spec.kind == "reach" else self.idx.grasp_site
        return StepState(
            gripper_pos=self._site_xpos[site],  # views: consumed before the next physics step
            cube_pos=self._qpos[a : a + 3],
            cube_init=self._layout.cube_pos,
            target=self._layout.target,
            cube_grasped=self.cube_grasped(),
            cube_speed=float(np.sqrt(v @ v)),
        )

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        mujoco.mj_resetData(self.model, self.data)
        self._layout = sample_layout(self.task_spec, self.np_random)
        q0 = HOME_QPOS + self.np_random.uniform(-0.02, 0.02, 6) * np.array([1, 1, 1, 1, 1, 0])
        self.data.qpos[self.idx.joint_qpos] = q0
        self.data.ctrl[self.idx.actuators] = q0
        if self.task_spec.kind == "reach":
            self._set_cube(np.array([0.0, 0.25, 0.0125]), 0.0)  # parked out of the way
        else:
            self._set_cube(self._layout.cube_pos, self._layout.cube_yaw)
        self.model.site_pos[self.idx.target_site] = (
            self._layout.target if self.task_spec.kind == "reach" else np.array([0.0, 0.0, -1.0])
        )
        self.model.site_pos[self.idx.zone_site] = (
            [self._layout.target[0], self._layout.target[1], 0.0005]
            if self.task_spec.kind == "pickplace"
            else np.array([0.0, 0.0, -1.0])
        )
        mujoco.mj_forward(self.model, self.data)
        self._env_buf = np.zeros(ENV_STATE_DIM, dtype=np.float32)
        self._env_buf[7:10] = self._layout.target
        self._env_buf[10:13] = self._layout.cube_pos
        self._steps = 0
        self._held = 0
        gid = self.idx.gripper_site
        self._ee_target_pos = self.data.site_xpos[gid].copy()
        self._ee_target_rot = self.data.site_xmat[gid].reshape(3, 3).copy()
        if self._tactile is not None:
            self._tactile.reset()
        info = {"is_success": False, "task": self.task_description}
        return self._observation(), info

    def _validate_action(self, action: Any) -> np.ndarray:
        expected = self.action_space.shape
        if type(action) is np.ndarray and action.shape == expected and action.dtype.kind == "f":
            # A finite sum proves every element finite (NaN and inf propagate); only then skip the full check.
            if not math.isfinite(action.sum()) and not np.isfinite(action).all():
                raise ValueError(f"action contains NaN or inf: {action}")
            return action  # fast path: the common case in a rollout
        try:
            a = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"action must be a numeric array of shape {expected}, got {type(action)}") from exc
        if a.shape != expected:
            layout = (
                "6 joint targets (shoulder_pan, shoulder_lift, elbow_flex, wrist_flex, wrist_roll, gripper)"
                if self.control_mode == "joint"
                else ("dx, dy, dz, droll, dpitch, dyaw, gripper" if self.ee_orientation else "dx, dy, dz, gripper")
            )
            raise ValueError(f"action must have shape {expected} ({layout}) in {self.units!r} units, got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"action contains NaN or inf: {a}")
        return a

    def _joint_targets(self, a: np.ndarray) -> np.ndarray:
        low, high = self.idx.joint_low, self.idx.joint_high
        if self.control_mode == "joint":
            q = (a - self._u_offset) / self._u_scale
        else:
            step = np.clip(a[:3], -self.max_ee_step, self.max_ee_step)
            self._ee_target_pos = np.clip(self._ee_target_pos + step, EE_WORKSPACE_LOW, EE_WORKSPACE_HIGH)
            if self.ee_orientation:
                rot = np.clip(a[3:6], -self.max_ee_rot_step, self.max_ee_rot_step)
                dq = np.empty(4)
                mujoco.mju_axisAngle2Quat(dq, rot / (np.linalg.norm(rot) + 1e-12), float(np.linalg.norm(rot)))
                dr = np.empty(9)
                mujoco.mju_quat2Mat(dr, dq)
                self._ee_target_rot = dr.reshape(3, 3) @ self._ee_target_rot
            grip_u = np.concatenate([np.zeros(5), [a[-1]]])
            grip = adapters.units_to_radians(grip_u, self.units, low, high)[5]
            q_now = self.data.ctrl[self.idx.actuators].copy()
            # Without orientation commands the gripper orientation is left free (position-only IK): a fixed
            # orientation target would fight the position near the wrist's joint limits.
            q = self.kinematics.ik(
                q_now,
                self._ee_target_pos,
                self._ee_target_rot if self.ee_orientation else None,
                rot_weight=0.3,
                iterations=15,
            )
            q[5] = grip
        return np.minimum(np.maximum(q, self.idx.ctrl_low), self.idx.ctrl_high)

    def step(self, action: Any):
        if self._layout is None:
            raise RuntimeError("call reset() before step()")
        a = self._validate_action(action)
        self._ctrl[self.idx.actuators] = self._joint_targets(a)
        mujoco.mj_step(self.model, self.data, nstep=self._n_substeps)
        self._steps += 1
        state = self._step_state()
        if self.task_spec.kind == "reach":
            reward, terms, success = reach_reward(self.task_spec, state)
        else:
            held = lifted(self.task_spec, state.cube_pos) and state.cube_grasped
            self._held = self._held + self._step_scale if held else 0  # hold time, in steps at CONTROL_HZ
            reward, terms, success = manipulation_reward(self.task_spec, state, self._held)
        terminated = bool(success)
        truncated = bool(self._steps >= self._max_episode_steps and not terminated)
        info = {"is_success": bool(success), "reward_terms": terms, "cube_grasped": state.cube_grasped}
        obs = self._observation()
        if self.render_mode == "human":
            self.render()
        return obs, float(reward), terminated, truncated, info

    def render(self):
        if self.render_mode == "human":
            if self._viewer is None:
                import mujoco.viewer

                self._viewer = mujoco.viewer.launch_passive(self.model, self.data)
            self._viewer.sync()
            return None
        return self._camera_renderer().render(self.data, self.render_camera)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        if self._viewer is not None:
            self._viewer.close()
            self._viewer = None

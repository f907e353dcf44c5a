"""A scripted expert for every task, acting only on what the env gives a policy.

Inputs per step: ``agent_pos`` (6 joint positions, in the env's units) and ``environment_state`` (cube pose and
task target, layout in :mod:`so101_sim.tasks`). It keeps its own kinematic copy of the robot (no access to the
running simulation), so the same class serves ``so101-sim rollout``, the LeRobot policy type
``so101_scripted`` and a policy server.

Strategy (lift): move the grasp point (between the jaws, ~15 mm from the fixed jaw) above the cube with the
jaws open and aligned with the cube's faces, descend, close (the position servo squeezes with its force
limit), lift. Pick-and-place continues: carry above the zone, lower, open, retreat. Reach: damped
least-squares IK of the gripper frame onto the target.

``cube_pose_noise=(metres, degrees)`` perturbs the cube pose the expert sees, once per episode, to show the
grasp tolerates pose-estimation error.
"""

from __future__ import annotations

import numpy as np

from so101_sim import adapters
from so101_sim.geometry import quat_to_yaw
from so101_sim.mujoco.kinematics import Kinematics
from so101_sim.mujoco.scene import build_model
from so101_sim.tasks import TaskSpec, get_task

GRIP_OPEN = 0.9  # rad: jaws ~4 cm apart, enough for the 2.5 cm cube with margin
GRIP_CLOSED = -0.17  # rad: the lower limit; the force-limited servo stops on the cube
MAX_JOINT_STEP = 0.08  # rad per 30 Hz step: smooth motion the position servos track
ABOVE = 0.07  # m: approach height of the grasp point above the cube centre
ALT_SEEDS = (  # arm postures (5 joints, rad) from which IK is retried when it stalls
    np.array([0.0, -1.4, 1.5, 0.8, 0.0]),
    np.array([0.0, -0.3, 0.3, 1.2, 0.0]),
    np.array([0.0, 0.3, -0.5, 1.3, 0.0]),
)
GRASP_Z_MIN = 0.015  # m: lowest grasp-point height (keeps the jaw tips off the table)


class ScriptedExpert:
    def __init__(
        self,
        task: str | TaskSpec = "Lift-v0",
        units: str = "lerobot",
        cube_pose_noise: tuple[float, float] = (0.0, 0.0),
        seed: int | None = None,
    ) -> None:
        self.task = task if isinstance(task, TaskSpec) else get_task(task)
        self.units = adapters.check_units(units)
        model = build_model("fast")
        self.grasp_kin = Kinematics(model, "grasp_point")
        self.tip_kin = Kinematics(model, "gripperframe")
        self.low, self.high = self.grasp_kin.low, self.grasp_kin.high
        self.noise = cube_pose_noise
        self.rng = np.random.default_rng(seed)
        self.reset()

    def reset(self) -> None:
        self.phase = "start"
        self.t = 0
        self.q_cmd: np.ndarray | None = None
        self._noise_pos = np.zeros(3)
        self._noise_yaw = 0.0
        if self.noise[0] > 0 or self.noise[1] > 0:
            d = self.rng.normal(size=2)
            self._noise_pos[:2] = d / max(np.linalg.norm(d), 1e-9) * self.noise[0]
            self._noise_yaw = np.deg2rad(self.noise[1]) * self.rng.choice([-1.0, 1.0])
        self._grasp_yaw: float | None = None
        self._cube0: np.ndarray | None = None

    # -------------------------------------------------------------- geometry
    def _grasp_rotation(self, cube_pos: np.ndarray, cube_yaw: float) -> np.ndarray:
        """Gripper body orientation: pointing down, jaws closing across two cube faces, least wrist roll."""
        radial = np.arctan2(cube_pos[1], cube_pos[0])
        k = np.round((radial - cube_yaw) / (np.pi / 2))
        psi = cube_yaw + k * np.pi / 2
        c, s = np.cos(psi), np.sin(psi)
        return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])

    def _move(self, q_meas: np.ndarray, target: np.ndarray, rot: np.ndarray | None, grip: float, kin: Kinematics):
        seed = self.q_cmd if self.q_cmd is not None else q_meas
        q_goal = kin.ik(seed, target, rot, rot_weight=0.3, iterations=20)
        if rot is None and self.t % 10 == 1 and np.linalg.norm(kin.fk(q_goal)[0] - target) > 0.005:
            # Position-only IK can stall in a local minimum near the base: retry from other arm postures.
            for alt in ALT_SEEDS:
                q_alt = kin.ik(np.r_[alt, seed[5]], target, None, iterations=40)
                if np.linalg.norm(kin.fk(q_alt)[0] - target) < np.linalg.norm(kin.fk(q_goal)[0] - target):
                    q_goal = q_alt
        step = np.clip(q_goal[:5] - seed[:5], -MAX_JOINT_STEP, MAX_JOINT_STEP)
        q = seed.copy()
        q[:5] = seed[:5] + step
        q[5] = grip
        self.q_cmd = q
        pos, _ = kin.fk(q_meas)
        return q, float(np.linalg.norm(pos - target))

    def _advance(self, phase: str) -> None:
        self.phase = phase
        self.t = 0

    # -------------------------------------------------------------- policy
    def act(self, agent_pos: np.ndarray, environment_state: np.ndarray) -> np.ndarray:
        """One action (6,) in the expert's units, from one observation."""
        q_meas = adapters.units_to_radians(np.asarray(agent_pos, dtype=np.float64), self.units, self.low, self.high)
        s = np.asarray(environment_state, dtype=np.float64)
        cube_pos = s[0:3] + self._noise_pos
        cube_yaw = float(quat_to_yaw(s[3:7])) + self._noise_yaw
        target = s[7:10]
        if self.phase == "start":
            self.q_cmd = q_meas.copy()
            self._advance("reach" if self.task.kind == "reach" else "approach")
        self.t += 1
        q = self._policy_step(q_meas, cube_pos, cube_yaw, target)
        return adapters.radians_to_units(q, self.units, self.low, self.high).astype(np.float32)

    def _policy_step(self, q_meas, cube_pos, cube_yaw, target) -> np.ndarray:
        if self.task.kind == "reach":
            q, _ = self._move(q_meas, target, None, GRIP_CLOSED, self.tip_kin)
            return q
        if self._cube0 is None:
            self._cube0 = cube_pos.copy()
            self._grasp_yaw = cube_yaw
        rot = self._grasp_rotation(self._cube0, self._grasp_yaw)
        grasp = self._cube0.copy()
        grasp[2] = max(grasp[2], GRASP_Z_MIN)
        above = grasp + np.array([0.0, 0.0, ABOVE])
        kin = self.grasp_kin
        if self.phase == "approach":
            q, err = self._move(q_meas, above, rot, GRIP_OPEN, kin)
            if (err < 0.008 and self.t > 8) or self.t > 75:
                self._advance("descend")
            return q
        if self.phase == "descend":
            frac = min(1.0, self.t / 25.0)
            q, err = self._move(q_meas, above + (grasp - above) * frac, rot, GRIP_OPEN, kin)
            if (frac >= 1.0 and err < 0.006) or self.t > 60:
                self._advance("close")
            return q
        if self.phase == "close":
            q, _ = self._move(q_meas, grasp, rot, GRIP_CLOSED, kin)
            if self.t > 15:
                self._advance("lift")
            return q
        lift_to = grasp + np.array([0.0, 0.0, 0.10])
        if self.phase == "lift":
            q, err = self._move(q_meas, lift_to, rot, GRIP_CLOSED, kin)
            if self.task.kind == "pickplace" and (err < 0.015 or self.t > 45):
                self._advance("carry")
            return q
        zone_above = np.array([target[0], target[1], lift_to[2]])
        zone_rot = self._grasp_rotation(zone_above, self._grasp_yaw)
        if self.phase == "carry":
            q, err = self._move(q_meas, zone_above, zone_rot, GRIP_CLOSED, kin)
            if (err < 0.01 and self.t > 5) or self.t > 90:
                self._advance("lower")
            return q
        place = np.array([target[0], target[1], GRASP_Z_MIN + 0.004])
        if self.phase == "lower":
            frac = min(1.0, self.t / 25.0)
            q, err = self._move(q_meas, zone_above + (place - zone_above) * frac, zone_rot, GRIP_CLOSED, kin)
            if (frac >= 1.0 and err < 0.008) or self.t > 60:
                self._advance("release")
            return q
        if self.phase == "release":
            q, _ = self._move(q_meas, place, zone_rot, GRIP_OPEN, kin)
            if self.t > 12:
                self._advance("retreat")
            return q
        q, _ = self._move(q_meas, place + np.array([0.0, 0.0, 0.08]), zone_rot, GRIP_OPEN, kin)
        return q

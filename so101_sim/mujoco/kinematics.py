"""Forward and differential inverse kinematics of the SO-101 on a private ``MjData``.

Damped least squares on a site's pose: position error (m) plus a weighted orientation error (rad), damping
``lambda``, joint limits respected by clipping after each iteration. The SO-101 has five arm joints, so a full
6-D pose is generally unreachable: the orientation weight trades pointing accuracy for position accuracy,
which is what a top-down grasp wants (DESIGN.md: the lift tilts the gripper 8-19 degrees).
"""

from __future__ import annotations

import mujoco
import numpy as np

from so101_sim.adapters import JOINT_NAMES


class Kinematics:
    def __init__(self, model: mujoco.MjModel, site: str = "grasp_point") -> None:
        self.model = model
        self.data = mujoco.MjData(model)
        self.site = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, site)
        if self.site < 0:
            raise ValueError(f"no site {site!r}")
        joints = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n) for n in JOINT_NAMES]
        self.qadr = np.array([model.jnt_qposadr[j] for j in joints])
        self.dadr = np.array([model.jnt_dofadr[j] for j in joints])
        self.low = np.array([model.jnt_range[j][0] for j in joints])
        self.high = np.array([model.jnt_range[j][1] for j in joints])
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))

    def fk(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Site position (3,) and rotation matrix (3, 3) for arm joints ``q`` (6,) in radians."""
        self.data.qpos[self.qadr] = q
        mujoco.mj_kinematics(self.model, self.data)
        return self.data.site_xpos[self.site].copy(), self.data.site_xmat[self.site].reshape(3, 3).copy()

    def body_rotation(self, q: np.ndarray, body: str = "gripper") -> np.ndarray:
        self.fk(q)
        return self.data.xmat[self.model.body(body).id].reshape(3, 3).copy()

    def ik(
        self,
        q0: np.ndarray,
        target_pos: np.ndarray,
        target_rot: np.ndarray | None = None,
        rot_weight: float = 0.3,
        iterations: int = 30,
        damping: float = 1e-3,
        tol: float = 1e-4,
        arm_only: bool = True,
    ) -> np.ndarray:
        """Joint angles (6,) that bring the site to ``target_pos`` (and towards ``target_rot``), from ``q0``.

        The gripper joint (index 5) is never moved when ``arm_only``.
        """
        q = np.array(q0, dtype=np.float64)
        n = 5 if arm_only else 6
        cols = self.dadr[:n]
        for _ in range(iterations):
            pos, rot = self.fk(q)
            err_p = target_pos - pos
            if target_rot is not None:
                err_r = rotation_error(rot, target_rot) * rot_weight
                err = np.concatenate([err_p, err_r])
            else:
                err = err_p
            if np.linalg.norm(err_p) < tol and (target_rot is None or np.linalg.norm(err[3:]) < tol * 10):
                break
            mujoco.mj_comPos(self.model, self.data)
            mujoco.mj_jacSite(self.model, self.data, self._jacp, self._jacr, self.site)
            jac = self._jacp[:, cols]
            if target_rot is not None:
                jac = np.vstack([jac, self._jacr[:, cols] * rot_weight])
            dq = jac.T @ np.linalg.solve(jac @ jac.T + damping * np.eye(jac.shape[0]), err)
            q[:n] = np.clip(q[:n] + dq, self.low[:n], self.high[:n])
        return q


def rotation_error(current: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World-frame rotation vector taking ``current`` to ``target`` (both 3x3)."""
    r = target @ current.T
    quat = np.empty(4)
    mujoco.mju_mat2Quat(quat, r.reshape(-1))
    if quat[0] < 0:
        quat = -quat
    vec = np.empty(3)
    mujoco.mju_quat2Vel(vec, quat, 1.0)
    return vec

"""Isaac Lab task configurations (``ManagerBasedRLEnvCfg``) for the SO-101/SO-100 reach and lift tasks.

One builder, :func:`make_env_cfg`, makes every variant:

``robot``    ``SO-101`` or ``SO-100`` (:mod:`isaac_so_arm101.robots`)
``task``     ``reach`` or ``lift``; randomisation, thresholds and instructions come from ``so101_sim.tasks``
             (the MuJoCo backend's task definitions), so the two backends pose the same problem
``variant``  ``"vla"``: absolute joint-position action (6 values, radians) and two RGB cameras, observation
             groups ``policy`` (named terms) and ``images``; what ``so101_sim.isaac.make_vector_env`` and the
             LeRobot faces use.
             ``"rl"``: Isaac Lab's usual RL interface, a scaled relative joint action (0.5 rad per unit around
             the default pose) for the arm plus a binary gripper (lift only), one concatenated ``policy``
             group, no cameras (cheaper); what Isaac Lab's rsl_rl/skrl training scripts use.
``play``     fewer worlds (16) for watching a policy.

Scene (env-local frame = robot base frame, metres): the arm's base at the origin on the table top (z = 0),
facing +x. Isaac Lab 3.0 (kit-less, :func:`scene_cfg_kitless`): Menagerie's robot as USD, the MuJoCo scene's
table, cube (2.5 cm, 30 g) and cameras from ``so101_sim.tasks.SCENE``, Newton physics with the MuJoCo Warp
solver, Warp-rendered ``Camera``s. Isaac Lab 2.3: TheRobotStudio's URDF, a 1.0 x 1.0 m table, a 50 g cube, a
dome light and RTX ``TiledCamera``s. Cameras: ``camera1`` above the workspace looking down (the MuJoCo scene's
camera1 pose and 50° field of view) and ``camera2`` on the wrist (Menagerie's ``wrist_cam`` pose).

Control: physics at 240 Hz, 8 physics steps per action, so the policy runs at 30 Hz like the MuJoCo backend
(``so101_sim.tasks``); episodes last 150 (reach) or 300 (lift) control steps. Lift succeeds when the cube's
bottom has been 5 cm above the table for 10 consecutive control steps, as in the MuJoCo backend.
"""

from __future__ import annotations

import math

from isaac_so_arm101 import mdp
from isaac_so_arm101.robots import ROBOTS, RobotSpec, robot_spec
from so101_sim.isaac.isaaclab_api import il, isaaclab_line, quat_cfg
from so101_sim.tasks import CUBE_HALF, HOME_NOISE, PHYSICS_STEPS_PER_CONTROL, SCENE, get_task
from so101_sim.tasks import PHYSICS_DT as TASK_PHYSICS_DT

PHYSICS_DT = TASK_PHYSICS_DT  # 240 Hz, as the MuJoCo backend
DECIMATION = PHYSICS_STEPS_PER_CONTROL  # 30 Hz control
CAMERA_NAMES = ("camera1", "camera2")
RL_ARM_SCALE = 0.5

# The MuJoCo scene's camera1: (0.19, 0, 0.55) looking straight down, image right = -y (xyaxes "0 -1 0 1 0 0"),
# 50° field of view. Same optical convention as USD/OpenGL (looks along -z, +y up): a -90° turn about z.
FRONT_CAMERA_POS = (0.19, 0.0, 0.55)
FRONT_CAMERA_ROT = (math.sqrt(0.5), 0.0, 0.0, -math.sqrt(0.5))
FRONT_CAMERA_HFOV_DEG = 50.0
# Menagerie's wrist_cam in the gripper frame: pos (0, 0.055, -0.045), euler x = -0.57 rad; sensor 5.76 mm wide,
# focal length 3.6 mm.
WRIST_CAMERA_POS = (0.0, 0.055, -0.045)
WRIST_CAMERA_ROT = (math.cos(-0.285), math.sin(-0.285), 0.0, 0.0)


def _hfov(fovy_deg: float, height: int, width: int) -> float:
    """Horizontal field of view of an image whose vertical one is ``fovy_deg`` (MuJoCo cameras give fovy)."""
    return math.degrees(2.0 * math.atan(math.tan(math.radians(fovy_deg) / 2.0) * width / height))


def _pinhole(hfov_deg: float | None = None, focal: float = 24.0, aperture: float | None = None):
    if aperture is None:
        aperture = 2.0 * focal * math.tan(math.radians(hfov_deg) / 2.0)
    return il.PinholeCameraCfg(focal_length=focal, focus_distance=400.0, horizontal_aperture=aperture,
                               clipping_range=(0.01, 10.0))


def scene_cfg(spec: RobotSpec, num_envs: int, image_size: tuple[int, int], cameras: tuple[str, ...] = CAMERA_NAMES):
    """Robot, table, cube, light and the requested cameras (``camera1``, ``camera2``). ``image_size`` is (H, W)."""
    if isaaclab_line() == "3.0":
        return scene_cfg_kitless(spec, num_envs, image_size, cameras)
    scene = il.InteractiveSceneCfg(num_envs=num_envs, env_spacing=2.5)
    from isaac_so_arm101.robots import articulation_cfg

    scene.robot = articulation_cfg(spec)
    scene.table = il.AssetBaseCfg(
        prim_path="{ENV_REGEX_NS}/Table",
        spawn=il.CuboidCfg(
            size=(1.0, 1.0, 0.04),
            collision_props=il.CollisionPropertiesCfg(contact_offset=0.002, rest_offset=0.0),
            visual_material=il.PreviewSurfaceCfg(diffuse_color=(0.55, 0.45, 0.35), roughness=0.8),
            physics_material=il.RigidBodyMaterialCfg(static_friction=1.0, dynamic_friction=1.0, restitution=0.0),
        ),
        init_state=il.AssetBaseCfg.InitialStateCfg(pos=(0.25, 0.0, -0.02), rot=(1.0, 0.0, 0.0, 0.0)),
    )
    scene.object = il.RigidObjectCfg(
        prim_path="{ENV_REGEX_NS}/Object",
        spawn=il.CuboidCfg(
            size=(2 * CUBE_HALF,) * 3,
            rigid_props=il.RigidBodyPropertiesCfg(
                solver_position_iteration_count=16, solver_velocity_iteration_count=1,
                max_depenetration_velocity=1.0, disable_gravity=False, kinematic_enabled=False,
            ),
            mass_props=il.MassPropertiesCfg(mass=0.05),
            collision_props=il.CollisionPropertiesCfg(contact_offset=0.002, rest_offset=0.0),
            visual_material=il.PreviewSurfaceCfg(diffuse_color=(0.8, 0.1, 0.1), roughness=0.5),
            physics_material=il.RigidBodyMaterialCfg(static_friction=1.0, dynamic_friction=1.0, restitution=0.0),
        ),
        init_state=il.RigidObjectCfg.InitialStateCfg(pos=(0.20, 0.0, CUBE_HALF), rot=(1.0, 0.0, 0.0, 0.0)),
    )
    scene.ground = il.AssetBaseCfg(
        prim_path="/World/GroundPlane", spawn=il.GroundPlaneCfg(color=(0.2, 0.2, 0.2)),
        init_state=il.AssetBaseCfg.InitialStateCfg(pos=(0.0, 0.0, -0.75), rot=(1.0, 0.0, 0.0, 0.0)),
    )
    scene.light = il.AssetBaseCfg(
        prim_path="/World/light", spawn=il.DomeLightCfg(color=(0.9, 0.9, 0.9), intensity=2500.0),
    )
    height, width = image_size
    if "camera1" in cameras:
        scene.front_camera = il.TiledCameraCfg(
            prim_path="{ENV_REGEX_NS}/FrontCamera",
            offset=il.TiledCameraCfg.OffsetCfg(pos=FRONT_CAMERA_POS, rot=FRONT_CAMERA_ROT, convention="opengl"),
            data_types=["rgb"], spawn=_pinhole(FRONT_CAMERA_HFOV_DEG), width=width, height=height,
            update_period=0.0,
        )
    if "camera2" in cameras:
        scene.wrist_camera = il.TiledCameraCfg(
            prim_path="{ENV_REGEX_NS}/Robot/" + spec.wrist_camera_parent + "/WristCamera",
            offset=il.TiledCameraCfg.OffsetCfg(pos=WRIST_CAMERA_POS, rot=WRIST_CAMERA_ROT, convention="opengl"),
            data_types=["rgb"], spawn=_pinhole(focal=3.6, aperture=5.76), width=width, height=height,
            update_period=0.0,
        )
    return scene


CAMERA_ENTITIES = {"camera1": "front_camera", "camera2": "wrist_camera"}


def scene_cfg_kitless(spec: RobotSpec, num_envs: int, image_size: tuple[int, int],
                      cameras: tuple[str, ...] = CAMERA_NAMES):
    """The same scene for Isaac Lab 3.0 without Kit: Newton physics, Warp ray-traced ``Camera``s.

    Differences from 2.3, each forced by kit-less Isaac Lab: the robot is Menagerie's USD; no ground plane or
    dome light (both load assets through ``omni.client``): the Warp renderer's default light; quaternions x, y, z, w.
    Table and cube sizes, mass and friction are the MuJoCo scene's (``so101_sim.tasks``).
    """
    from isaac_so_arm101.robots import articulation_cfg

    t = SCENE
    scene = il.InteractiveSceneCfg(num_envs=num_envs, env_spacing=2.5)
    scene.robot = articulation_cfg(spec)
    scene.table = il.AssetBaseCfg(
        prim_path="{ENV_REGEX_NS}/Table",
        spawn=il.CuboidCfg(
            size=tuple(2 * h for h in t.table_half_size),
            collision_props=il.CollisionBaseCfg(collision_enabled=True),
            visual_material=il.PreviewSurfaceCfg(diffuse_color=t.table_rgb, roughness=0.8),
            physics_material=il.RigidBodyMaterialCfg(static_friction=t.table_friction,
                                                     dynamic_friction=t.table_friction, restitution=0.0),
        ),
        init_state=il.AssetBaseCfg.InitialStateCfg(pos=t.table_pos, rot=quat_cfg((1.0, 0.0, 0.0, 0.0))),
    )
    scene.object = il.RigidObjectCfg(
        prim_path="{ENV_REGEX_NS}/Object",
        spawn=il.CuboidCfg(
            size=(2 * CUBE_HALF,) * 3,
            rigid_props=il.RigidBodyBaseCfg(disable_gravity=False, kinematic_enabled=False),
            mass_props=il.MassPropertiesCfg(mass=t.cube_mass),
            collision_props=il.CollisionBaseCfg(collision_enabled=True),
            visual_material=il.PreviewSurfaceCfg(diffuse_color=t.cube_rgb, roughness=0.5),
            physics_material=il.RigidBodyMaterialCfg(static_friction=t.cube_friction,
                                                     dynamic_friction=t.cube_friction, restitution=0.0),
        ),
        init_state=il.RigidObjectCfg.InitialStateCfg(pos=(0.20, 0.0, CUBE_HALF), rot=quat_cfg((1.0, 0.0, 0.0, 0.0))),
    )
    height, width = image_size
    renderer = il.NewtonWarpRendererCfg()
    if "camera1" in cameras:
        cam = t.cameras["camera1"]
        scene.front_camera = il.CameraCfg(
            prim_path="{ENV_REGEX_NS}/FrontCamera",
            offset=il.CameraCfg.OffsetCfg(pos=cam.pos, rot=quat_cfg(cam.quat_opengl), convention="opengl"),
            data_types=["rgb"], spawn=_pinhole(_hfov(cam.fovy_deg, height, width)), width=width, height=height,
            update_period=0.0, renderer_cfg=renderer,
        )
    if "camera2" in cameras:
        cam = t.cameras["camera2"]
        scene.wrist_camera = il.CameraCfg(
            prim_path="{ENV_REGEX_NS}/Robot/" + _robot_prim(spec, spec.wrist_camera_parent) + "/WristCamera",
            offset=il.CameraCfg.OffsetCfg(pos=cam.pos, rot=quat_cfg(cam.quat_opengl), convention="opengl"),
            data_types=["rgb"], spawn=_pinhole(focal=cam.focal_mm, aperture=cam.aperture_mm), width=width,
            height=height, update_period=0.0, renderer_cfg=renderer,
            update_latest_camera_pose=True,  # it rides on the gripper: without this it keeps its spawn pose
        )
    return scene


# Menagerie's body tree as mujoco-usd-converter writes it (bodies nested under Geometry/).
_MENAGERIE_BODY_PATHS = {
    "gripper": "Geometry/base/shoulder/upper_arm/lower_arm/wrist/gripper",
}


def _robot_prim(spec: RobotSpec, body: str) -> str:
    if spec.source == "menagerie_usd":
        return _MENAGERIE_BODY_PATHS[body]
    return body


def physics_cfg_kitless():
    """Newton with the MuJoCo Warp solver, set to the Menagerie SO-101's ``<option>`` (which the USD converter
    drops): elliptic friction cones, impratio 10, implicitfast integration, as in the MuJoCo backend."""
    return il.NewtonCfg(solver_cfg=il.MJWarpSolverCfg(
        integrator=SCENE.integrator, cone=SCENE.cone, impratio=SCENE.impratio, iterations=SCENE.solver_iterations,
        ls_iterations=SCENE.solver_ls_iterations, njmax=SCENE.njmax, nconmax=SCENE.nconmax))


def _robot_entity(spec: RobotSpec, joints: bool = True):
    # preserve_order: Isaac Lab otherwise returns the joints in the articulation's order (the URDF importer's,
    # gripper first for TheRobotStudio's SO-101), not in LeRobot's motor order.
    if not joints:
        return il.SceneEntityCfg("robot")
    return il.SceneEntityCfg("robot", joint_names=list(spec.joint_names), preserve_order=True)


def _robot_arm_entity(spec: RobotSpec):
    """The arm joints without the gripper (reset noise: the gripper starts exactly at its home value)."""
    return il.SceneEntityCfg("robot", joint_names=[j for j in spec.joint_names if j != "gripper"],
                             preserve_order=True)


def observations_cfg(spec: RobotSpec, kind: str, variant: str, lift_height: float, cameras: tuple[str, ...]):
    ee = _ee(spec)
    command = "ee_pose" if kind == "reach" else None
    state = il.ObservationTermCfg(func=mdp.environment_state,
                                  params={"object_name": "object", "command_name": command,
                                          "lift_height": lift_height})
    policy = il.ObservationGroupCfg(enable_corruption=False, concatenate_terms=variant == "rl")
    robot = _robot_entity(spec)
    if variant == "vla":
        policy.joint_pos = il.ObservationTermCfg(func=il.mdp_joint_pos, params={"asset_cfg": robot})
        policy.joint_vel = il.ObservationTermCfg(func=il.mdp_joint_vel, params={"asset_cfg": robot})
        policy.ee_pos = il.ObservationTermCfg(func=mdp.ee_pos, params=ee)
        policy.ee_quat = il.ObservationTermCfg(func=mdp.ee_quat, params={"robot_name": "robot",
                                                                         "body_name": spec.ee_body})
        policy.environment_state = state
    else:
        policy.joint_pos = il.ObservationTermCfg(func=il.mdp_joint_pos_rel, params={"asset_cfg": robot})
        policy.joint_vel = il.ObservationTermCfg(func=il.mdp_joint_vel_rel, params={"asset_cfg": robot})
        policy.environment_state = state
        policy.actions = il.ObservationTermCfg(func=il.mdp_last_action)
    groups = {"policy": policy}
    if cameras:
        images = il.ObservationGroupCfg(enable_corruption=False, concatenate_terms=False)
        for name in cameras:
            entity = CAMERA_ENTITIES[name]
            setattr(images, name, il.ObservationTermCfg(
                func=il.mdp_image,
                params=_image_params(entity)))
        groups["images"] = images
    return groups


def actions_cfg(spec: RobotSpec, kind: str, variant: str):
    if variant == "vla":
        return {"arm_action": il.JointPositionActionCfg(
            asset_name="robot", joint_names=list(spec.joint_names), scale=1.0, use_default_offset=False,
            preserve_order=True)}
    arm = [j for j in spec.joint_names if j != "gripper"]
    actions = {"arm_action": il.JointPositionActionCfg(
        asset_name="robot", joint_names=arm, scale=RL_ARM_SCALE, use_default_offset=True, preserve_order=True)}
    if kind == "lift":
        actions["gripper_action"] = il.BinaryJointPositionActionCfg(
            asset_name="robot", joint_names=["gripper"], open_command_expr={"gripper": spec.gripper_open},
            close_command_expr={"gripper": spec.gripper_closed})
    return actions


def commands_cfg(spec: RobotSpec, kind: str, task):
    if kind != "reach":
        return {}
    return {"ee_pose": il.UniformPoseCommandCfg(
        asset_name="robot", body_name=spec.ee_body, resampling_time_range=(1e6, 1e6), debug_vis=True,
        ranges=il.UniformPoseCommandCfg.Ranges(pos_x=task.reach_x, pos_y=task.reach_y, pos_z=task.reach_z,
                                               roll=(0.0, 0.0), pitch=(0.0, 0.0), yaw=(0.0, 0.0)))}


def events_cfg(spec: RobotSpec, task):
    x0, y0 = 0.20, 0.0  # the cube's default position (scene_cfg)
    if task.fixed_cube is not None:  # LiftFixed-v0: one pose, no randomisation
        fx, fy, fyaw = task.fixed_cube
        cx, cy, yaw = (fx, fx), (fy, fy), (fyaw, fyaw)
    else:
        cx, cy, yaw = task.cube_x, task.cube_y, tuple(task.cube_yaw)
    return {
        "set_joint_limits": il.EventTermCfg(func=mdp.set_joint_position_limits, mode="startup",
                                            params={"robot_name": "robot", "limits": dict(spec.joint_limits)}),
        "reset_all": il.EventTermCfg(func=il.mdp_reset_scene_to_default, mode="reset"),
        "reset_robot_joints": il.EventTermCfg(
            func=il.mdp_reset_joints_by_offset, mode="reset",
            params={"position_range": (-HOME_NOISE, HOME_NOISE), "velocity_range": (0.0, 0.0),
                    "asset_cfg": _robot_arm_entity(spec)}),
        "reset_object": il.EventTermCfg(
            func=il.mdp_reset_root_state_uniform, mode="reset",
            params={"pose_range": {"x": (cx[0] - x0, cx[1] - x0), "y": (cy[0] - y0, cy[1] - y0),
                                   "yaw": yaw},
                    "velocity_range": {}, "asset_cfg": il.SceneEntityCfg("object")}),
        "remember_object_start": il.EventTermCfg(func=mdp.remember_object_start, mode="reset",
                                                 params={"object_name": "object"}),
    }


def _image_params(entity: str) -> dict:
    params = {"sensor_cfg": il.SceneEntityCfg(entity), "data_type": "rgb", "normalize": False}
    if isaaclab_line() == "3.0":  # the image_rgb term stacks frames: one frame, channels last (uint8 HWC)
        params.update(channel_first=False, frame_stack=1)
    return params


def _ee(spec: RobotSpec) -> dict:
    """Keyword params of the tool-frame terms: the body and the tool point's offset in it."""
    return {"robot_name": "robot", "body_name": spec.ee_body, "offset": tuple(spec.ee_offset)}


def rewards_cfg(spec: RobotSpec, kind: str, task, variant: str = "vla"):
    """The MuJoCo backend's task reward, term by term with its weights (``so101_sim.tasks``): Isaac Lab's
    reward manager multiplies each term by the step length, so the weights are divided by it here and the
    per-step reward is the MuJoCo one. The RL variant adds two small regularisers (action rate, joint speed)."""
    from so101_sim.tasks import GRASP_POINT_IN_GRIPPER, MANIPULATION_REWARD_WEIGHTS, REACH_REWARD_WEIGHTS

    step_dt = DECIMATION * PHYSICS_DT
    params = {"kind": kind, "lift_height": task.lift_height, "robot_name": "robot", "body_name": spec.ee_body}
    if kind == "reach":
        weights, params["offset"], params["command_name"] = REACH_REWARD_WEIGHTS, tuple(spec.ee_offset), "ee_pose"
    else:  # the lift reward measures the grasp point between the jaws (Menagerie's gripper body on 3.0)
        weights = MANIPULATION_REWARD_WEIGHTS
        params["offset"] = GRASP_POINT_IN_GRIPPER if spec.source == "menagerie_usd" else tuple(spec.ee_offset)
    rewards = {name: il.RewardTermCfg(func=mdp.task_reward_feature, weight=w / step_dt,
                                      params={"term": name, **params}) for name, w in weights.items()}
    if variant == "rl":
        rewards["action_rate"] = il.RewardTermCfg(func=il.mdp_action_rate_l2, weight=-1e-4)
        rewards["joint_vel"] = il.RewardTermCfg(func=il.mdp_joint_vel_l2, weight=-1e-4,
                                                params={"asset_cfg": _robot_entity(spec)})
    return rewards


def terminations_cfg(spec: RobotSpec, kind: str, task):
    ee = _ee(spec)
    terms = {"time_out": il.TerminationTermCfg(func=il.mdp_time_out, time_out=True)}
    if kind == "reach":
        terms["success"] = il.TerminationTermCfg(
            func=mdp.ee_reached_command,
            params={"command_name": "ee_pose", "tolerance": task.reach_tolerance, **ee})
    else:
        terms["success"] = il.TerminationTermCfg(
            func=mdp.object_lifted_held,
            params={"lift_height": task.lift_height, "hold_steps": task.hold_steps, "object_name": "object"})
        terms["object_fell"] = il.TerminationTermCfg(
            func=mdp.object_fell, params={"minimum_height": -0.05, "object_name": "object"})
    return terms


_ENV_CFG_CLASS = None
_TERMS_CFG_CLASS = None


def _as_terms_cfg(terms: dict):
    """A dict of manager terms as a config object with one attribute per term (what 3.0's managers read)."""
    global _TERMS_CFG_CLASS
    if _TERMS_CFG_CLASS is None:

        @il.configclass
        class TermsCfg:
            """Manager terms, filled in by name."""

        _TERMS_CFG_CLASS = TermsCfg
    out = _TERMS_CFG_CLASS()
    for name, term in terms.items():
        setattr(out, name, term)
    return out


def _env_cfg_class():
    """``SO101EnvCfg``, defined on first use (``configclass`` needs Isaac Lab, which needs the running app)."""
    global _ENV_CFG_CLASS
    if _ENV_CFG_CLASS is None:

        @il.configclass
        class SO101EnvCfg(il.ManagerBasedRLEnvCfg):
            """An SO-ARM task; every manager's terms are filled in by :func:`make_env_cfg`."""

        _ENV_CFG_CLASS = SO101EnvCfg
    return _ENV_CFG_CLASS


def make_env_cfg(
    robot: str = "SO-101",
    task: str = "lift",
    variant: str = "vla",
    play: bool = False,
    num_envs: int | None = None,
    image_size: tuple[int, int] = (256, 256),
    episode_length: int | None = None,
    cameras: tuple[str, ...] | None = None,
    mujoco_task: str | None = None,
):
    """Build a task configuration. ``episode_length`` is in control steps (30 Hz); None keeps the task's.

    ``cameras``: which of ``camera1``/``camera2`` the VLA variant renders (None: both; the RL variant has none).
    """
    if robot not in ROBOTS:
        raise ValueError(f"robot must be one of {sorted(ROBOTS)}, got {robot!r}")
    spec = robot_spec(robot)
    if task not in ("reach", "lift"):
        raise ValueError(f"task must be 'reach' or 'lift', got {task!r}")
    if variant not in ("vla", "rl"):
        raise ValueError(f"variant must be 'vla' or 'rl', got {variant!r}")
    tspec = get_task(mujoco_task or ("Reach-v0" if task == "reach" else "Lift-v0"))
    if tspec.kind != task:
        raise ValueError(f"mujoco_task {mujoco_task!r} is a {tspec.kind} task, not {task!r}")
    if num_envs is None:
        num_envs = 16 if play else (1 if variant == "vla" else 4096)
    steps = episode_length or tspec.episode_length
    cameras = tuple(CAMERA_NAMES if cameras is None else cameras) if variant == "vla" else ()
    unknown = [c for c in cameras if c not in CAMERA_NAMES]
    if unknown:
        raise ValueError(f"unknown camera(s) {unknown}; choose from {list(CAMERA_NAMES)}")

    cfg = _env_cfg_class()()
    cfg.scene = scene_cfg(spec, num_envs, tuple(image_size), cameras)
    cfg.observations = observations_cfg(spec, task, variant, tspec.lift_height, cameras)
    cfg.actions = actions_cfg(spec, task, variant)
    cfg.commands = commands_cfg(spec, task, tspec)
    cfg.events = events_cfg(spec, tspec)
    cfg.rewards = rewards_cfg(spec, task, tspec, variant)
    cfg.terminations = terminations_cfg(spec, task, tspec)
    if isaaclab_line() == "3.0":  # 3.0's managers take config objects, not dicts
        for group in ("observations", "actions", "commands", "events", "rewards", "terminations"):
            setattr(cfg, group, _as_terms_cfg(getattr(cfg, group)))
    cfg.decimation = DECIMATION
    cfg.sim.dt = PHYSICS_DT
    cfg.sim.render_interval = DECIMATION
    if isaaclab_line() == "3.0":
        cfg.sim.physics = physics_cfg_kitless()
    # Isaac Lab ends an episode after ceil(episode_length_s / step_dt) steps; half a step below the exact
    # length keeps float rounding from adding one step.
    cfg.episode_length_s = (steps - 0.5) * DECIMATION * PHYSICS_DT
    cfg.viewer.eye = (0.8, 0.6, 0.5)
    cfg.viewer.lookat = (0.2, 0.0, 0.05)
    return cfg


# ---- gym registry entry points (see isaac_so_arm101/__init__.py) --------------------------------------------
def so101_reach_rl():
    return make_env_cfg("SO-101", "reach", "rl")


def so101_reach_rl_play():
    return make_env_cfg("SO-101", "reach", "rl", play=True)


def so101_lift_rl():
    return make_env_cfg("SO-101", "lift", "rl")


def so101_lift_rl_play():
    return make_env_cfg("SO-101", "lift", "rl", play=True)


def so101_lift_fixed_rl():
    return make_env_cfg("SO-101", "lift", "rl", mujoco_task="LiftFixed-v0")


def so100_reach_rl():
    return make_env_cfg("SO-100", "reach", "rl")


def so100_lift_rl():
    return make_env_cfg("SO-100", "lift", "rl")

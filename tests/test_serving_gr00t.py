"""Our client and server against peers of each Isaac-GR00T generation (N1.5 msgpack, N1.6/N1.7, early pickle
N1.5), written from the protocol behaviour (see ``tests/gr00t_peers.py``), both directions, on loopback; plus the
server's safety rules (internal errors, unsafe binds, one client for stateful policies, no silent instruction)."""

from __future__ import annotations

import contextlib
import logging
import time

import numpy as np
import pytest
from gr00t_peers import (
    SO100_LANGUAGE_KEY,
    N15Config,
    N16Config,
    PeerClient,
    PeerServer,
    so100_client_observation,
    so100_modality,
)
from serving_threads import server_thread

from so101_sim.serving import (
    EnvDescription,
    PolicyClient,
    PolicyFeatures,
    PolicyServer,
    PolicyServerError,
    PolicyService,
    ProtocolMapping,
)
from so101_sim.serving.history import ObservationHistory

H, W, T_ACT = 16, 20, 4


class JointsPolicy:
    """Cameras camera1 (front/top) and camera2 (wrist); action[b, t] = state[b] + t + mean(camera1 b)/255."""

    def __init__(self, cameras=("camera1", "camera2"), stateful: bool = False) -> None:
        self.cameras = cameras
        self.stateful = stateful
        self.resets = 0
        self.tasks: list[list[str]] = []

    def features(self) -> PolicyFeatures:
        return PolicyFeatures({f"observation.images.{c}": (H, W) for c in self.cameras}, 6, 6, T_ACT)

    def predict_chunk(self, images, state, task):
        self.tasks.append(list(task))
        out = state[:, None, :] + np.arange(T_ACT, dtype=np.float32)[None, :, None]
        if self.cameras:
            out[:, :, 0] += images["observation.images.camera1"].mean(axis=(1, 2, 3))[:, None] / 255.0
        return out

    def reset(self) -> None:
        self.resets += 1


def expected(front, state):
    out = state[:, None, :].astype(np.float32) + np.arange(T_ACT, dtype=np.float32)[None, :, None]
    if front is not None:
        out[:, :, 0] += front.mean(axis=(1, 2, 3))[:, None] / 255.0
    return out


def serving(policy=None, **kw):
    return server_thread(PolicyServer(PolicyService(policy or JointsPolicy()), "127.0.0.1", 0, **kw))


@contextlib.contextmanager
def peer_server(**kw):
    server = PeerServer(**kw)
    try:
        yield server
    finally:
        server.stop()


def frames(batch=2, seed=0, t=None):
    rng = np.random.default_rng(seed)
    shape = (batch, H, W, 3) if t is None else (batch, t, H, W, 3)
    imgs = {c: rng.integers(0, 256, shape, dtype=np.uint8) for c in ("camera1", "camera2")}
    state = rng.normal(size=(batch, 6) if t is None else (batch, t, 6)).astype(np.float32)
    return imgs, state


# ----------------------------------------------------------------------------------------------------------------
# GR00T clients -> our server
# ----------------------------------------------------------------------------------------------------------------


def test_n16_client_gets_a_modality_config_it_can_build_and_actions_in_its_envelope():
    imgs, state = frames(seed=1)
    with serving() as server:
        c = PeerClient(server.port, "n1.6")
        try:
            mc = c.get_modality_config()
            assert all(isinstance(v, N16Config) for v in mc.values())  # N1.6's dataclass accepted every field
            assert mc["video"].modality_keys == ["camera1", "camera2"]
            assert mc["language"].modality_keys == [SO100_LANGUAGE_KEY]
            obs = {  # GR00T's SO-100 names: front/wrist are our camera1/camera2
                "video": {"front": imgs["camera1"][:, None], "wrist": imgs["camera2"][:, None]},
                "state": {"single_arm": state[:, None, :5], "gripper": state[:, None, 5:]},
                "language": {SO100_LANGUAGE_KEY: [["lift"], ["lift"]]},
            }
            action, info = c.get_action(obs)
            assert info == {}
            got = np.concatenate([action["single_arm"], action["gripper"]], axis=-1)
            np.testing.assert_allclose(got, expected(imgs["camera1"], state), rtol=1e-6)
            assert c.reset() == {}
        finally:
            c.close()


def test_camera_less_policy_sends_no_empty_video_key_list():
    with serving(JointsPolicy(cameras=())) as server:
        c = PeerClient(server.port, "n1.6")
        try:
            mc = c.get_modality_config()  # N1.6 refuses modality_keys == [] while decoding: must not raise
            assert "video" not in mc and mc["state"].modality_keys == ["single_arm", "gripper"]
        finally:
            c.close()


def test_n15_client_gets_its_json_string_form_with_prefixed_keys():
    imgs, state = frames(batch=1, seed=2)
    obs = so100_client_observation(imgs["camera1"][0], imgs["camera2"][0], state[0], "pick")
    # --protocol n1.5: right from the first call.
    with serving(protocol="n1.5") as server:
        c = PeerClient(server.port, "n1.5")
        try:
            mc = c.get_modality_config()
            assert mc["video"] == N15Config([0], ["video.camera1", "video.camera2"])
            assert mc["state"].modality_keys == ["state.single_arm", "state.gripper"]
            assert mc["action"] == N15Config(list(range(T_ACT)), ["action.single_arm", "action.gripper"])
            reply = c.get_action(obs)  # unbatched in, unbatched out
            assert reply["action.single_arm"].shape == (T_ACT, 5)
            got = np.concatenate([reply["action.single_arm"], reply["action.gripper"]], axis=-1)
            np.testing.assert_allclose(got, expected(imgs["camera1"][:1], state[:1])[0], rtol=1e-6)
            with pytest.raises(RuntimeError, match="Unknown endpoint"):
                c.call("get_featurez", requires_input=False)
        finally:
            c.close()
    # auto: an N1.5 client that called get_action first gets N1.5's form; an N1.6 client still gets the map.
    with serving() as server:
        c15, c16 = PeerClient(server.port, "n1.5"), PeerClient(server.port, "n1.6")
        try:
            c15.get_action(obs)
            assert isinstance(c15.get_modality_config()["state"], N15Config)
            assert isinstance(c16.get_modality_config()["state"], N16Config)
        finally:
            c15.close()
            c16.close()


def test_seed_observation_format_is_accepted_and_answered():
    """The seed workflow's dict: video {wrist_camera, scene_camera}, state {joint_positions}, language {task}."""
    imgs, state = frames(batch=2, seed=3)
    seed_obs = {
        "video": {"wrist_camera": imgs["camera2"][:, None], "scene_camera": imgs["camera1"][:, None]},
        "state": {"joint_positions": state[:, None]},
        "language": {"task": [["lift the cube"]] * 2},
    }
    with serving() as server:
        c = PeerClient(server.port, "n1.6")
        try:
            reply = c.call("get_action", seed_obs)  # the seed sends the observation bare
            assert list(reply) == ["joint_positions"] and reply["joint_positions"].shape == (2, T_ACT, 6)
            np.testing.assert_allclose(reply["joint_positions"], expected(imgs["camera1"], state), rtol=1e-6)
        finally:
            c.close()


# ----------------------------------------------------------------------------------------------------------------
# Our client -> GR00T servers, no mapping
# ----------------------------------------------------------------------------------------------------------------

ENV = EnvDescription({"camera1": (H, W), "camera2": (H, W), "camera3": (H, W)}, 6, 6)


@pytest.mark.parametrize(
    "generation, sim", [("n1.6", False), ("n1.6", True), ("n1.5", False)], ids=["n16", "n16-sim", "n15"]
)
def test_our_client_drives_gr00t_servers_without_a_mapping(generation, sim):
    imgs, state = frames(batch=2, seed=4)
    with peer_server(generation=generation, sim=sim) as server, PolicyClient("127.0.0.1", server.port, 5000) as client:
        spec = client.spec()
        assert spec.protocol == generation and not spec.so101_sim
        assert spec.cameras == ["front", "wrist"] and spec.state_keys == ["single_arm", "gripper"]
        assert client.check_compatibility(ENV) == []
        client.ensure_compatible(ENV)
        client.reset()
        for _ in range(2):
            chunk = client.get_action_chunk(imgs, state, "put the cube in the bowl")
            assert chunk.shape == (2, 16, 6)
            np.testing.assert_allclose(chunk, np.repeat(state[:, None], 16, axis=1), rtol=1e-6)
        data = server.seen[-1]
        if generation == "n1.5":  # bare flat observation, prefixed keys, the declared language key
            assert np.array_equal(data["video.front"][:, 0], imgs["camera1"])  # front -> camera1
            assert np.array_equal(data["video.wrist"][:, 0], imgs["camera2"])  # wrist -> camera2
            assert data[SO100_LANGUAGE_KEY] == ["put the cube in the bowl"] * 2
        else:
            obs = data["observation"]
            if sim:  # the wrapped server asked for flat keys once; the client switched and stayed flat
                assert (
                    obs["state.single_arm"].dtype == np.float32
                    and obs[SO100_LANGUAGE_KEY][0] == "put the cube in the bowl"
                )
                assert len(server.seen) == 3  # 1 refused nested try + 2 flat requests
            else:
                assert obs["language"] == {SO100_LANGUAGE_KEY: [["put the cube in the bowl"]] * 2}
                assert np.array_equal(obs["video"]["front"][:, 0], imgs["camera1"])
        # Only endpoints GR00T servers have were called: no get_features, no reset on N1.5.
        assert server.unknown_endpoints == []
        assert server.endpoints_called.count("get_modality_config") == 1
        if generation == "n1.5":
            assert "reset" not in server.endpoints_called


def test_layout_switch_is_remembered_without_ensure_compatible():
    imgs, state = frames(batch=1, seed=6)
    with peer_server(sim=True) as server, PolicyClient("127.0.0.1", server.port, 5000) as client:
        for _ in range(3):
            assert client.get_action_chunk(imgs, state, "t").shape == (1, 16, 6)
        assert len(server.seen) == 4  # one refused nested request, then flat only
        assert all("video.front" in d["observation"] for d in server.seen[1:])


def test_frame_history_follows_the_servers_delta_indices():
    modality = so100_modality(video_deltas=(-2, -1, 0), state_deltas=(-1, 0))
    imgs, state = frames(batch=1, seed=5)
    with peer_server(modality=modality) as server, PolicyClient("127.0.0.1", server.port, 5000) as client:
        client.ensure_compatible(ENV)
        with pytest.raises(ValueError, match=r"wants 3 frame\(s\) of camera 'front'"):
            client.get_action_chunk(imgs, state, "t")
        hist = ObservationHistory(client.spec().video_deltas, client.spec().state_deltas)
        for step in range(3):
            hist.push({"camera1": imgs["camera1"] + step, "camera2": imgs["camera2"], "state": state + step})
        chunk = client.get_action_chunk(
            {c: hist.gather(c, [-2, -1, 0]) for c in ("camera1", "camera2")}, hist.gather("state", [-1, 0]), "t"
        )
        np.testing.assert_allclose(chunk[:, 0], state + 2, rtol=1e-6)  # the newest state step is last
        sent = server.seen[-1]["observation"]["video"]["front"]
        assert sent.shape == (1, 3, H, W, 3) and [
            int(sent[0, i, 0, 0, 0]) - int(imgs["camera1"][0, 0, 0, 0]) for i in range(3)
        ] == [0, 1, 2]
    hist = ObservationHistory([-2, 0])
    hist.push({"x": np.array([[1.0]])})  # episode start: the missing past repeats the oldest step
    assert hist.gather("x", [-2, 0]).tolist() == [[[1.0], [1.0]]]
    with pytest.raises(ValueError, match="must be <= 0"):
        ObservationHistory([0, 1])


def test_ping_tells_no_answer_from_an_error_answer_and_refuses_pickle_servers():
    with peer_server(api_token="s3cret") as server:
        with PolicyClient("127.0.0.1", server.port, 3000) as client:
            with pytest.raises(PolicyServerError, match="Unauthorized") as err:
                client.ping()
            assert err.value.answered and err.value.unauthorized
        with PolicyClient("127.0.0.1", server.port, 3000, api_token="s3cret") as client:
            assert client.ping()
    with peer_server(generation="n1.5", pickle=True) as server, PolicyClient("127.0.0.1", server.port, 3000) as client:
        with pytest.raises(PolicyServerError, match="pickle protocol") as err:
            client.ping()
        assert err.value.answered
    # Our server refuses a pickle client's request with a message (and keeps serving).
    with serving() as server:
        import io

        import torch
        import zmq

        buf = io.BytesIO()
        torch.save({"endpoint": "ping"}, buf)
        ctx = zmq.Context()
        sock = ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, 3000)
        sock.connect(f"tcp://127.0.0.1:{server.port}")
        try:
            sock.send(buf.getvalue())
            from gr00t_peers import peer_unpack

            assert "pickle protocol" in peer_unpack(sock.recv())["error"]
        finally:
            sock.close(linger=0)
            ctx.term()
        with PolicyClient("127.0.0.1", server.port, 3000) as client:
            assert client.ping() and client.spec().so101_sim


def test_explicit_protocol_and_unknown_server_state_keys():
    modality = so100_modality()
    modality["state"]["modality_keys"] = ["arm", "wrist_roll", "jaw"]
    with peer_server(modality=modality) as server:
        with PolicyClient("127.0.0.1", server.port, 3000, protocol="n1.5") as client:
            assert client.spec().protocol == "n1.5"  # forced: bare envelope
        with PolicyClient("127.0.0.1", server.port, 3000) as client:
            problems = client.check_compatibility(ENV)
            assert any("does not say how many values each takes" in p for p in problems)
        m = ProtocolMapping(state={"arm": 4, "wrist_roll": 1, "jaw": 1})
        with PolicyClient("127.0.0.1", server.port, 3000, mapping=m) as client:
            assert client.check_compatibility(ENV) == []


# ----------------------------------------------------------------------------------------------------------------
# Server safety (issue 10)
# ----------------------------------------------------------------------------------------------------------------


def test_policy_exception_is_an_internal_error_with_traceback_and_bad_input_is_not(caplog):
    class Broken(JointsPolicy):
        def predict_chunk(self, images, state, task):
            raise KeyError("observation.images.top")  # a KeyError inside the policy is still the policy's bug

    imgs, state = frames(batch=1)
    obs = {
        "video": {"camera1": imgs["camera1"][:, None], "camera2": imgs["camera2"][:, None]},
        "state": {"single_arm": state[:, None, :5], "gripper": state[:, None, 5:]},
        "language": {"task": [["x"]]},
    }
    with caplog.at_level(logging.WARNING, logger="so101_sim.serving.server"), serving(Broken()) as server:
        c = PeerClient(server.port, "n1.6")
        try:
            with pytest.raises(RuntimeError, match="internal error: KeyError"):
                c.call("get_action", obs)
            no_text = {k: v for k, v in obs.items() if k != "language"}
            with pytest.raises(RuntimeError, match="the observation has no instruction"):
                c.call("get_action", no_text)
        finally:
            c.close()
    internal = [r for r in caplog.records if "internal error" in r.getMessage()]
    assert internal and internal[0].levelno == logging.ERROR and "Traceback" in internal[0].getMessage()
    bad = [r for r in caplog.records if "no instruction" in r.getMessage()]
    assert bad and bad[0].levelno == logging.WARNING and "Traceback" not in bad[0].getMessage()


def test_non_loopback_bind_needs_a_token_or_an_explicit_flag():
    service = PolicyService(JointsPolicy())
    with pytest.raises(ValueError, match="refusing to bind '0.0.0.0' without an api_token.*--allow-no-token"):
        PolicyServer(service, "0.0.0.0", 0)
    for kw in ({"api_token": "t"}, {"allow_no_token": True}):
        server = PolicyServer(service, "0.0.0.0", 0, **kw)
        server.close()


def test_stateful_policy_serves_one_client_at_a_time():
    policy = JointsPolicy(stateful=True)
    imgs, state = frames(batch=1)
    lease = 1.5
    with serving(policy, client_lease_s=lease) as server:
        assert server.single_client
        with PolicyClient("127.0.0.1", server.port, 3000) as a, PolicyClient("127.0.0.1", server.port, 3000) as b:
            a.spec(), b.spec()  # config requests are open to everyone and claim nothing
            a.get_action_chunk(imgs, state, "a")
            assert b.ping()  # other endpoints stay open to everyone
            with pytest.raises(PolicyServerError, match="serves one client at a time"):
                b.get_action_chunk(imgs, state, "b")
            a.get_action_chunk(imgs, state, "a")  # the holder keeps it
            resets = policy.resets
            time.sleep(lease + 0.2)
            b.get_action_chunk(imgs, state, "b")  # lease over: b takes over, the history is reset first
            assert policy.resets == resets + 1
            with pytest.raises(PolicyServerError, match="serves one client at a time"):
                a.get_action_chunk(imgs, state, "a")
    # A stateless policy serves any number of clients.
    with serving(JointsPolicy()) as server:
        assert not server.single_client

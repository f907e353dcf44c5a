"""The GR00T ZMQ + msgpack protocol: wire format, our server, our client, and peers written from the spec.

Everything runs on loopback (127.0.0.1) with ephemeral ports; every server thread is stopped and joined.
No torch here: the served policy is a small numpy policy whose answer is a known function of its inputs.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import threading
import time

import msgpack
import numpy as np
import pytest
import zmq
from serving_threads import server_thread

from so101_sim.serving import (
    EnvDescription,
    ModalityConfig,
    PolicyClient,
    PolicyFeatures,
    PolicyServer,
    PolicyServerError,
    PolicyService,
    ProtocolError,
    ProtocolMapping,
    pack,
    unpack,
)

H, W, T_ACT = 24, 32, 4


class ArithmeticPolicy:
    """action[b, t] = state[b] + t, plus mean(front image b)/255 on joint 0 and len(task b) on joint 5."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.resets = 0
        self.calls = 0

    def features(self) -> PolicyFeatures:
        cams = {"observation.images.front": (H, W), "observation.images.wrist": (H, W)}
        return PolicyFeatures(cams, state_dim=6, action_dim=6, chunk_size=T_ACT)

    def predict_chunk(self, images, state, task):
        self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        assert set(images) == {"observation.images.front", "observation.images.wrist"}
        out = state[:, None, :] + np.arange(T_ACT, dtype=np.float32)[None, :, None]
        out[:, :, 0] += images["observation.images.front"].mean(axis=(1, 2, 3))[:, None] / 255.0
        out[:, :, 5] += np.array([len(t) for t in task], dtype=np.float32)[:, None]
        return out

    def reset(self) -> None:
        self.resets += 1


def expected_chunk(front: np.ndarray, state: np.ndarray, task: list[str]) -> np.ndarray:
    out = state[:, None, :].astype(np.float32) + np.arange(T_ACT, dtype=np.float32)[None, :, None]
    out[:, :, 0] += front.mean(axis=(1, 2, 3))[:, None] / 255.0
    out[:, :, 5] += np.array([len(t) for t in task], dtype=np.float32)[:, None]
    return out


def make_obs(batch: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = {c: rng.integers(0, 256, (batch, H, W, 3), dtype=np.uint8) for c in ("front", "wrist")}
    state = rng.normal(size=(batch, 6)).astype(np.float32)
    return images, state


def running_server(policy=None, mapping=None, api_token=None, port=0):
    policy = policy or ArithmeticPolicy()
    return server_thread(
        PolicyServer(PolicyService(policy, mapping or ProtocolMapping()), "127.0.0.1", port, api_token)
    )


@contextlib.contextmanager
def client_for(server, **kw):
    c = PolicyClient("127.0.0.1", server.port, **{"timeout_ms": 5000, **kw})
    try:
        yield c
    finally:
        c.close()


# ----------------------------------------------------------------------------------------------------------------
# A peer written from the specification only (not from our code): plain msgpack + numpy.save
# ----------------------------------------------------------------------------------------------------------------


def spec_encode(obj):
    if isinstance(obj, np.ndarray):
        buf = io.BytesIO()
        np.save(buf, obj, allow_pickle=False)
        return {"__ndarray_class__": True, "as_npy": buf.getvalue()}
    raise TypeError(type(obj))


def spec_decode(obj):
    if "__ndarray_class__" in obj:
        return np.load(io.BytesIO(obj["as_npy"]), allow_pickle=False)
    return obj


def spec_pack(obj) -> bytes:
    return msgpack.packb(obj, default=spec_encode)


def spec_unpack(data: bytes):
    return msgpack.unpackb(data, object_hook=spec_decode)


@contextlib.contextmanager
def spec_req_socket(port: int, timeout_ms: int = 5000):
    ctx = zmq.Context()
    s = ctx.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, timeout_ms)
    s.connect(f"tcp://127.0.0.1:{port}")
    try:
        yield s
    finally:
        s.close(linger=0)
        ctx.term()


def spec_call(sock, request) -> dict:
    sock.send(spec_pack(request))
    return spec_unpack(sock.recv())


# ----------------------------------------------------------------------------------------------------------------
# Wire format
# ----------------------------------------------------------------------------------------------------------------


def test_wire_round_trips_arrays_and_modality_configs():
    arrays = {
        "u8": np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        "f32": np.linspace(-1, 1, 7, dtype=np.float32),
        "f64": np.eye(3),
        "i64": np.array([[1, -2]], dtype=np.int64),
        "noncontig": np.arange(12.0).reshape(3, 4).T,
    }
    msg = {"data": arrays, "mc": ModalityConfig([0, 1], ["front"], {"sin_cos_embedding_keys": None}), "s": "x"}
    back = unpack(pack(msg))
    for k, a in arrays.items():
        assert back["data"][k].dtype == a.dtype and np.array_equal(back["data"][k], a), k
    assert back["mc"] == msg["mc"]
    # Arrays are tagged exactly as the spec says, readable by a plain msgpack + numpy peer.
    raw = msgpack.unpackb(pack({"a": arrays["f32"]}))
    assert raw["a"]["__ndarray_class__"] is True
    assert np.array_equal(np.load(io.BytesIO(raw["a"]["as_npy"]), allow_pickle=False), arrays["f32"])


def test_wire_reads_both_modality_config_encodings():
    n15 = {
        "__ModalityConfig_class__": True,
        "as_json": json.dumps({"delta_indices": [0], "modality_keys": ["video.front"]}),
    }
    n16 = {
        "__ModalityConfig_class__": True,
        "as_json": {"delta_indices": [0, 1], "modality_keys": ["front"], "action_configs": None},
    }
    got = unpack(msgpack.packb({"a": n15, "b": n16}))
    assert got["a"] == ModalityConfig([0], ["video.front"])
    assert got["b"].delta_indices == [0, 1] and got["b"].extra == {"action_configs": None}
    assert (got["a"].wire_form, got["b"].wire_form) == ("json", "map")
    # Each is written back in its own form, with only the fields that generation's class accepts.
    extra = {"action_configs": None, "our_note": 1}
    raw = msgpack.unpackb(pack({"a": got["a"], "b": ModalityConfig([0], ["front"], extra)}))
    assert json.loads(raw["a"]["as_json"]) == {"delta_indices": [0], "modality_keys": ["video.front"]}
    assert raw["b"]["as_json"] == {"delta_indices": [0], "modality_keys": ["front"], "action_configs": None}


@pytest.mark.parametrize(
    "payload, needle",
    [
        (b"\xc1\xc1garbage", "not valid msgpack"),
        (msgpack.packb({"x": {"__ndarray_class__": True, "as_npy": b"not npy"}}), "not a valid .npy"),
        (msgpack.packb({"x": {"__ndarray_class__": True}}), "no 'as_npy'"),
    ],
)
def test_wire_rejects_malformed_payloads(payload, needle):
    with pytest.raises(ProtocolError, match=needle):
        unpack(payload)


def test_wire_never_unpickles():
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ProtocolError, match="npy"):
        unpack(msgpack.packb({"__ndarray_class__": True, "as_npy": buf.getvalue()}))
    with pytest.raises(TypeError):
        pack({"x": np.array([object()], dtype=object)})


# ----------------------------------------------------------------------------------------------------------------
# Mapping files
# ----------------------------------------------------------------------------------------------------------------


def test_mapping_files_yaml_and_json(tmp_path):
    y = tmp_path / "m.yaml"
    y.write_text("format: flat\nvideo: {cam_a: front, cam_b: observation.images.wrist}\nstate: {arm: 5, grip: 1}\n")
    m = ProtocolMapping.from_file(y)
    assert m.format == "flat" and m.resolved_envelope("n1.5") == "bare"
    assert m.resolved_envelope("n1.6") == "observation"  # N1.6 servers unpack **data, flat layout or not
    assert m.resolved_language_key == "annotation.human.task_description"
    assert [ProtocolMapping.image_key(c) for c in m.video.values()] == [
        "observation.images.front",
        "observation.images.wrist",
    ]
    j = tmp_path / "m.json"
    j.write_text(json.dumps({"action": {"joints": 6}, "action_horizon": 2}))
    assert ProtocolMapping.from_file(j).action == {"joints": 6}
    bad = tmp_path / "bad.yaml"
    bad.write_text("formt: nested\n")
    with pytest.raises(ValueError, match=r"bad.yaml.*unknown key\(s\) \['formt'\]"):
        ProtocolMapping.from_file(bad)
    bad.write_text("state: {arm: five}\n")
    with pytest.raises(ValueError, match="'state' dims must be positive integers"):
        ProtocolMapping.from_file(bad)


def test_service_rejects_a_mapping_that_does_not_fit_the_policy():
    with pytest.raises(ValueError, match="not inputs of the policy"):
        PolicyService(ArithmeticPolicy(), ProtocolMapping(video={"front": "front", "top": "top"}))
    with pytest.raises(ValueError, match="sums to 7"):
        PolicyService(ArithmeticPolicy(), ProtocolMapping(action={"arm": 6, "grip": 1}))


# ----------------------------------------------------------------------------------------------------------------
# Our client <-> our server
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["nested", "flat"])
def test_client_and_server_end_to_end(fmt):
    images, state = make_obs(batch=3, seed=1)
    tasks = ["pick", "lift the cube", "x"]
    with running_server() as server, client_for(server, mapping=ProtocolMapping(format=fmt)) as client:
        assert client.ping()
        chunk = client.get_action_chunk(images, state, tasks)
        np.testing.assert_allclose(chunk, expected_chunk(images["front"], state, tasks), rtol=1e-6)
        assert chunk.shape == (3, T_ACT, 6) and chunk.dtype == np.float32
        mc = client.get_modality_config()
        assert mc["video"].modality_keys == ["front", "wrist"]
        assert mc["state"].modality_keys == ["single_arm", "gripper"]
        assert mc["action"].delta_indices == list(range(T_ACT))
        client.reset()
        assert client.get_features()["video"]["front"] == [H, W, 3]


def test_client_renames_cameras_and_truncates_horizon_by_mapping():
    images, state = make_obs(batch=1, seed=2)
    srv_map = ProtocolMapping(video={"cam_high": "front", "cam_wrist": "wrist"}, action={"joints": 6}, action_horizon=2)
    cli_map = ProtocolMapping(format="flat", video={"cam_high": "front", "cam_wrist": "wrist"}, action={"joints": 6})
    with running_server(mapping=srv_map) as server, client_for(server, mapping=cli_map) as client:
        assert client.spec().cameras == ["cam_high", "cam_wrist"] and client.spec().action_keys == ["joints"]
        np.testing.assert_allclose(
            client.get_action_chunk(images, state, "t"), expected_chunk(images["front"], state, ["t"])[:, :2], rtol=1e-6
        )


def test_compatibility_check_names_every_mismatch():
    with running_server() as server, client_for(server) as client:
        ok = EnvDescription({"front": (H, W), "wrist": (H, W)}, state_dim=6, action_dim=6)
        assert client.check_compatibility(ok) == []
        client.ensure_compatible(ok)
        bad = EnvDescription({"front": (48, 64)}, state_dim=7, action_dim=6)
        problems = client.check_compatibility(bad)
        text = "\n".join(problems)
        assert "camera 'front': resolution mismatch, server expects 24x32, env renders 48x64" in text
        assert "camera 'wrist': the policy's camera 'wrist' is not a camera of the scene ['front']" in text
        assert "--camera-map wrist=<camera>" in text
        assert "state: the server's keys {'single_arm': 5, 'gripper': 1} take 6 values, the env's state has 7" in text
        with pytest.raises(PolicyServerError, match="does not match the env"):
            client.ensure_compatible(bad)


# ----------------------------------------------------------------------------------------------------------------
# Bad requests: each gets an error reply, the server serves the next one
# ----------------------------------------------------------------------------------------------------------------


def _nested_obs(images, state, task="t"):
    return {
        "video": {c: v[:, None] for c, v in images.items()},
        "state": {"single_arm": state[:, None, :5], "gripper": state[:, None, 5:]},
        "language": {"task": [[task]] * state.shape[0]},
    }


def _bad_requests():
    images, state = make_obs(batch=1)
    good = _nested_obs(images, state)
    missing_cam = _nested_obs(images, state)
    del missing_cam["video"]["wrist"]
    wrong_shape = _nested_obs(images, state)
    wrong_shape["state"]["single_arm"] = np.zeros((1, 1, 4), np.float32)
    wrong_res = _nested_obs(images, state)
    wrong_res["video"]["front"] = np.zeros((1, 1, H + 1, W, 3), np.uint8)
    wrong_dtype = _nested_obs(images, state)
    wrong_dtype["video"]["front"] = wrong_dtype["video"]["front"].astype(np.float32)
    string_state = _nested_obs(images, state)
    string_state["state"]["gripper"] = "open"
    return [
        ("garbage", [b"\x00\xffnot msgpack at all"], "not valid msgpack"),
        ("not a map", [spec_pack([1, 2, 3])], "must be a msgpack map"),
        ("two frames", [spec_pack({"endpoint": "ping"}), b"extra"], "single-frame"),
        ("wrong endpoint", [spec_pack({"endpoint": "get_actoin", "data": {}})], "Unknown endpoint: 'get_actoin'"),
        ("wrong keys", [spec_pack({"endpoint": "get_action", "data": {"foo": 1}})], "neither nested"),
        (
            "missing camera",
            [spec_pack({"endpoint": "get_action", "data": missing_cam})],
            "missing [\"video['wrist']\"]",
        ),
        ("wrong shape", [spec_pack({"endpoint": "get_action", "data": wrong_shape})], "must have shape (B, T, 5)"),
        (
            "wrong resolution",
            [spec_pack({"endpoint": "get_action", "data": wrong_res})],
            f"must have shape (B, T, {H}, {W}, 3)",
        ),
        ("wrong dtype", [spec_pack({"endpoint": "get_action", "data": wrong_dtype})], "must be uint8, got float32"),
        ("string state", [spec_pack({"endpoint": "get_action", "data": string_state})], "must be an ndarray, got str"),
        (
            "bad npy",
            [
                msgpack.packb(
                    {
                        "endpoint": "get_action",
                        "data": {"video": {"front": {"__ndarray_class__": True, "as_npy": b"xx"}}},
                    }
                )
            ],
            "not a valid .npy",
        ),
    ], good


def test_every_bad_request_gets_an_error_reply_and_the_server_keeps_serving():
    cases, good = _bad_requests()
    with running_server() as server, spec_req_socket(server.port) as sock:
        for label, frames, needle in cases:
            sock.send_multipart(frames)
            reply = spec_unpack(sock.recv())
            assert "error" in reply, label
            assert needle in reply["error"], (label, reply["error"])
            ok = spec_call(sock, {"endpoint": "get_action", "data": good})
            assert "single_arm" in ok and ok["single_arm"].shape == (1, T_ACT, 5), label


def test_policy_exceptions_are_error_replies():
    class Broken(ArithmeticPolicy):
        def predict_chunk(self, images, state, task):
            raise RuntimeError("CUDA out of memory (simulated)")

    images, state = make_obs(batch=1)
    with running_server(Broken()) as server, spec_req_socket(server.port) as sock:
        reply = spec_call(sock, {"endpoint": "get_action", "data": _nested_obs(images, state)})
        assert "internal error: RuntimeError: CUDA out of memory" in reply["error"]
        assert spec_call(sock, {"endpoint": "ping"})["status"] == "ok"


def test_api_token():
    images, state = make_obs(batch=1)
    with running_server(api_token="s3cret") as server:
        with spec_req_socket(server.port) as sock:
            for token in (None, "wrong", 123):
                req = {"endpoint": "ping"} if token is None else {"endpoint": "ping", "api_token": token}
                assert spec_call(sock, req) == {"error": "Unauthorized: Invalid API token"}
            assert spec_call(sock, {"endpoint": "ping", "api_token": "s3cret"})["status"] == "ok"
            # kill without the token is refused too
            assert "error" in spec_call(sock, {"endpoint": "kill"})
        with client_for(server, api_token="wrong") as bad, pytest.raises(PolicyServerError, match="Unauthorized"):
            bad.get_action_chunk(images, state, "t")
        with client_for(server, api_token="s3cret") as good:
            assert good.get_action_chunk(images, state, "t").shape == (1, T_ACT, 6)


# ----------------------------------------------------------------------------------------------------------------
# Connection-level robustness
# ----------------------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_client_times_out_without_a_server_and_recovers_with_a_fresh_socket():
    port = _free_port()
    client = PolicyClient("127.0.0.1", port, timeout_ms=200)
    try:
        t0 = time.monotonic()
        with pytest.raises(
            PolicyServerError, match=rf"failed to connect to policy server at 127.0.0.1:{port} \(no reply within 200 ms"
        ):
            client.call("ping")
        assert time.monotonic() - t0 < 2.0
        assert not client.ping()  # a second call on the replacement socket times out cleanly too
        # Now a server appears on that port: the same client works (its socket was replaced, not stuck).
        client.timeout_ms = 5000
        with running_server(port=port):
            assert client.ping()
            images, state = make_obs(batch=1)
            assert client.get_action_chunk(images, state, "t").shape == (1, T_ACT, 6)
    finally:
        client.close()


def test_server_survives_clients_that_vanish_mid_request():
    policy = ArithmeticPolicy(delay_s=0.3)
    images, state = make_obs(batch=1)
    with running_server(policy) as server:
        # A REQ client sends a request and disappears before the reply.
        with spec_req_socket(server.port) as sock:
            sock.send(spec_pack({"endpoint": "get_action", "data": _nested_obs(images, state)}))
        # A raw TCP peer that sends bytes that are not even ZMTP, then hangs up.
        with socket.create_connection(("127.0.0.1", server.port)) as raw:
            raw.sendall(b"GET / HTTP/1.1\r\n\r\n" + bytes(range(256)))
        # Our client (timing out on purpose on a slow request) also abandons its request...
        with (
            client_for(server, timeout_ms=50) as impatient,
            pytest.raises(PolicyServerError, match="no reply within 50 ms"),
        ):
            impatient.get_action_chunk(images, state, "t")
        # ...and a well-behaved client is still served correctly.
        with client_for(server) as client:
            np.testing.assert_allclose(
                client.get_action_chunk(images, state, "t"), expected_chunk(images["front"], state, ["t"]), rtol=1e-6
            )
        assert policy.calls >= 2


def test_several_clients_at_once_each_get_their_own_answer():
    n_clients, n_requests = 4, 8
    errors: list[str] = []
    policy = ArithmeticPolicy(delay_s=0.005)
    with running_server(policy) as server:

        def worker(i: int) -> None:
            fmt = "nested" if i % 2 else "flat"
            with client_for(server, mapping=ProtocolMapping(format=fmt)) as client:
                for r in range(n_requests):
                    images, state = make_obs(batch=1 + (i % 2), seed=100 * i + r)
                    task = f"client {i} request {r}"
                    got = client.get_action_chunk(images, state, task)
                    want = expected_chunk(images["front"], state, [task] * state.shape[0])
                    if not np.allclose(got, want, rtol=1e-6):
                        errors.append(f"client {i} request {r} got someone else's answer")

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in threads)
        assert policy.calls == n_clients * n_requests  # plus each client's ping/config/features requests
    assert errors == []


def test_kill_endpoint_stops_the_server():
    server = PolicyServer(PolicyService(ArithmeticPolicy()), "127.0.0.1", 0)
    thread = server.start_thread()
    try:
        with client_for(server) as client:
            client.kill_server()
        thread.join(timeout=5)
        assert not thread.is_alive()
    finally:
        server.stop()
        thread.join(timeout=5)


# ----------------------------------------------------------------------------------------------------------------
# Peer sides written from the specification
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["nested", "flat"])
def test_spec_client_talks_to_our_server(fmt):
    images, state = make_obs(batch=2, seed=3)
    task = "stack the cubes"
    with running_server() as server, spec_req_socket(server.port) as sock:
        assert spec_call(sock, {"endpoint": "ping"})["status"] == "ok"
        if fmt == "nested":  # GR00T N1.6 PolicyClient: envelope {"observation", "options"}, reply [action, info]
            reply = spec_call(
                sock,
                {"endpoint": "get_action", "data": {"observation": _nested_obs(images, state, task), "options": None}},
            )
            assert isinstance(reply, list) and len(reply) == 2 and reply[1] == {}
            actions = reply[0]
            got = np.concatenate([actions["single_arm"], actions["gripper"]], axis=-1)
            np.testing.assert_allclose(got, expected_chunk(images["front"], state, [task] * 2), rtol=1e-6)
        else:  # GR00T N1.5 style: flat keys, no batch axis, bare data, reply {"action.<key>": (T, D)}
            obs = {
                "video.front": images["front"][:1],  # (T=1, H, W, 3)
                "video.wrist": images["wrist"][:1],
                "state.single_arm": state[:1, :5].astype(np.float64),  # N1.5 SO-100 clients send float64
                "state.gripper": state[:1, 5:],
                "annotation.human.task_description": [task],
            }
            reply = spec_call(sock, {"endpoint": "get_action", "data": obs})
            assert set(reply) == {"action.single_arm", "action.gripper"}
            assert reply["action.single_arm"].shape == (T_ACT, 5)
            got = np.concatenate([reply["action.single_arm"], reply["action.gripper"]], axis=-1)
            np.testing.assert_allclose(got, expected_chunk(images["front"][:1], state[:1], [task])[0], rtol=1e-6)
        # GR00T N1.6 sim wrapper: flat batched keys inside the N1.6 envelope, language under "task".
        flat16 = {
            "video.front": images["front"][:, None],
            "video.wrist": images["wrist"][:, None],
            "state.single_arm": state[:, None, :5],
            "state.gripper": state[:, None, 5:],
            "task": [task, task],
        }
        actions, info = spec_call(sock, {"endpoint": "get_action", "data": {"observation": flat16, "options": None}})
        assert info == {} and actions["action.gripper"].shape == (2, T_ACT, 1)
        got = np.concatenate([actions["action.single_arm"], actions["action.gripper"]], axis=-1)
        np.testing.assert_allclose(got, expected_chunk(images["front"], state, [task] * 2), rtol=1e-6)
        mc = spec_call(sock, {"endpoint": "get_modality_config"})
        assert mc["video"]["__ModalityConfig_class__"] is True
        assert mc["video"]["as_json"]["modality_keys"] == ["front", "wrist"]
        assert spec_call(sock, {"endpoint": "kill"})["status"] == "ok"


class EnvStatePolicy(ArithmeticPolicy):
    """Also takes observation.environment_state (2, 3): adds its per-sample sum to every action value."""

    def features(self) -> PolicyFeatures:
        f = super().features()
        f.env_state_shape = (2, 3)
        return f

    def predict_chunk(self, images, state, task, env_state=None):
        assert env_state is not None and env_state.shape[1:] == (2, 3)
        return super().predict_chunk(images, state, task) + env_state.sum(axis=(1, 2))[:, None, None]


@pytest.mark.parametrize("fmt", ["nested", "flat"])
def test_environment_state_travels_as_a_state_key(fmt):
    images, state = make_obs(batch=2, seed=9)
    env_state = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    with running_server(EnvStatePolicy()) as server, client_for(server, mapping=ProtocolMapping(format=fmt)) as client:
        assert client.get_modality_config()["state"].modality_keys == ["single_arm", "gripper", "environment_state"]
        assert client.server_wants_env_state()
        got = client.get_action_chunk(images, state, ["a", "b"], env_state=env_state)
        want = expected_chunk(images["front"], state, ["a", "b"]) + env_state.sum(axis=(1, 2))[:, None, None]
        np.testing.assert_allclose(got, want, rtol=1e-6)
        with pytest.raises(PolicyServerError, match=r"environment_state: the server needs it"):
            client.get_action_chunk(images, state, ["a", "b"])
        env = EnvDescription({"front": (H, W), "wrist": (H, W)}, 6, 6, env_state_dim=6)
        assert client.check_compatibility(env) == []
        env.env_state_dim = None
        assert "environment_state: the server needs it but the env provides none" in client.check_compatibility(env)
    # A server that does not take it: the env may have one, nothing is sent and nothing is reported.
    with running_server() as server, client_for(server) as client:
        assert not client.server_wants_env_state()
        env = EnvDescription({"front": (H, W), "wrist": (H, W)}, 6, 6, env_state_dim=13)
        assert client.check_compatibility(env) == []

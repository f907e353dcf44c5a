"""``so101-sim serve``: serve a LeRobot policy over the Isaac-GR00T ZMQ protocol (see docs/serving.md)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys

NAME = "serve"
HELP = "Serve a LeRobot policy (--policy.path or --policy.type) over the Isaac-GR00T ZMQ + msgpack protocol."
TOKEN_ENV = "SO101_SIM_API_TOKEN"


def _image_size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"image size must be HxW (e.g. 256x256), got {text!r}") from None
    return h, w


def _override(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--policy.override takes KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _camera_list(text: str) -> list[str]:
    return [] if text.strip().lower() in ("", "none") else [c.strip() for c in text.split(",") if c.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--policy.path", dest="policy_path", help="pretrained policy directory (or Hub repo id)")
    src.add_argument(
        "--policy.type", dest="policy_type", help="a registered policy type, built fresh (e.g. so101_scripted, act)"
    )
    parser.add_argument(
        "--policy.override",
        dest="policy_overrides",
        type=_override,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config field for --policy.type (JSON value), repeatable",
    )
    parser.add_argument(
        "--policy.device",
        "--device",
        dest="device",
        default=None,
        help="cpu, cuda, cuda:1 (default: cuda if available)",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to bind (default 127.0.0.1; 0.0.0.0 = all, which needs --api-token)",
    )
    parser.add_argument("--port", type=int, default=5555, help="TCP port (default 5555; 0 = pick a free one)")
    parser.add_argument(
        "--api-token",
        default=os.environ.get(TOKEN_ENV),
        help=f"require this token in every request (default: ${TOKEN_ENV}, else none)",
    )
    parser.add_argument("--mapping", default=None, help="observation/action mapping file (YAML or JSON)")
    parser.add_argument(
        "--image-size",
        type=_image_size,
        default=(256, 256),
        metavar="HxW",
        help="camera resolution of a fresh --policy.type policy that declares no inputs (default 256x256)",
    )
    parser.add_argument(
        "--cameras",
        type=_camera_list,
        default=None,
        help="env cameras of a fresh --policy.type policy, comma separated, or 'none' "
        "(default: the mapping's, else camera1,camera2,camera3)",
    )
    parser.add_argument("--max-message-mb", type=int, default=512, help="drop peers sending larger messages")
    parser.add_argument(
        "--protocol", default="auto", choices=["auto", "n1.5", "n1.6"],
        help="form of get_modality_config replies: n1.5 (JSON string, prefixed keys), n1.6 (a map; also N1.7); "
        "auto = what the asking client used before, else n1.6 (default)",
    )  # fmt: skip
    parser.add_argument(
        "--allow-no-token", action="store_true",
        help="allow binding a non-loopback --host without --api-token (anyone reaching the port can use the policy)",
    )  # fmt: skip
    parser.add_argument(
        "--client-lease-s", type=float, default=10.0,
        help="stateful policies serve one client at a time; another may take over after this many idle seconds",
    )  # fmt: skip
    parser.add_argument("-v", "--verbose", action="store_true", help="log every bad request")


def run(args: argparse.Namespace) -> int:
    """The command; a failure to start (no policy, bad mapping, unsafe bind) is one ``error:`` line, exit 2."""
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    from so101_sim.serving.lerobot_policy import load_policy
    from so101_sim.serving.mapping import ProtocolMapping
    from so101_sim.serving.server import PolicyServer, PolicyService, is_loopback

    if not args.api_token and not is_loopback(args.host) and not args.allow_no_token:
        print(
            f"error: refusing to serve on {args.host} without --api-token: anyone who can reach the port could run "
            f"the policy and stop the server. Set --api-token (or ${TOKEN_ENV}), or pass --allow-no-token",
            file=sys.stderr,
        )
        return 2
    device = args.device
    if device is None:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        mapping = ProtocolMapping.from_file(args.mapping) if args.mapping else ProtocolMapping()
        policy = load_policy(
            path=args.policy_path,
            policy_type=args.policy_type,
            device=device,
            overrides=dict(args.policy_overrides),
            mapping=mapping,
            image_size=args.image_size,
            cameras=args.cameras,
        )
        service = PolicyService(policy, mapping)
        server = PolicyServer(
            service, args.host, args.port, args.api_token, args.max_message_mb * 1024 * 1024,
            protocol=args.protocol, allow_no_token=args.allow_no_token, client_lease_s=args.client_lease_s,
        )  # fmt: skip
    except (FileNotFoundError, ValueError, TypeError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    feats = service.get_features()
    one_client = f"one client at a time (lease {args.client_lease_s:g} s)" if server.single_client else "any clients"
    print(
        f"Server is ready and listening on {server.address} "
        f"(policy {policy.policy.config.type} on {device}; cameras {list(feats['video'])}, state {feats['state']}, "
        f"action {feats['action']}, horizon {feats['action_horizon']}; protocol {args.protocol}; {one_client}; "
        f"token {'required' if args.api_token else 'off'})",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.close()
    print(f"Server stopped after {server.requests_served} requests", file=sys.stderr, flush=True)
    return 0

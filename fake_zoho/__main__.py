"""Run the Zoho emulator alone: ``python -m fake_zoho --port N``."""

from __future__ import annotations

import argparse
import json

from .config import DATA_CENTRES
from .emulator import FakeZoho
from .server import StopSignals


def main(argv: list[str] | None = None) -> None:
    """Start the emulator, print its URLs and sample credentials, serve until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m fake_zoho", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free port)")
    parser.add_argument("--scale", type=float, default=1.0, help="emulated seconds per real second")
    parser.add_argument("--dc", default="us", choices=DATA_CENTRES, help="data centre this emulator plays")
    parser.add_argument("--certfile", help="PEM certificate: HTTPS with it and --keyfile")
    parser.add_argument("--keyfile", help="PEM private key of --certfile")
    args = parser.parse_args(argv)
    if (args.certfile is None) != (args.keyfile is None):
        parser.error("--certfile and --keyfile go together")
    tls = (args.certfile, args.keyfile) if args.certfile else None
    zoho = FakeZoho(dc=args.dc, host=args.host, port=args.port, scale=args.scale, tls=tls).start()
    stop_signals = StopSignals()  # before the URLs are printed: whoever reads them may signal at once
    print(f"Zoho emulator ({args.dc}) running at {zoho.url}")
    print(f"  accounts_url: {zoho.url}   (POST /oauth/v2/token)")
    print(f"  api_domain:   {zoho.url}   (/crm/v8/{{module}}/actions/mass_update)")
    print(f"  admin:        {zoho.url}/__admin/")
    print("Sample credentials (a new client and refresh token):")
    print(json.dumps(zoho.credentials(), indent=2), flush=True)
    try:
        stop_signals.wait()
    finally:
        zoho.stop()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A minimal QMP client for bench/default-path-bench.sh: drives one QEMU precopy migration.

  qmp.py SRC_SOCK DST_SOCK PORT    migrates SRC to DST (listening on 127.0.0.1:PORT), uncapped, with QEMU's
                                   default 300 ms downtime limit; prints one JSON object: total_s, setup_s,
                                   downtime_ms, ram_bytes (transferred), duplicate pages (zero pages), wall_s
"""
import json
import socket
import sys
import time


class Qmp:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        for _ in range(200):
            try:
                self.sock.connect(path)
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise SystemExit(f"qmp: cannot connect to {path}")
        self.f = self.sock.makefile("rw")
        json.loads(self.f.readline())  # greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.f.flush()
        while True:
            reply = json.loads(self.f.readline())
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise SystemExit(f"qmp: {name}: {reply['error']}")
            # an event: skip


def main():
    src, dst, port = Qmp(sys.argv[1]), Qmp(sys.argv[2]), int(sys.argv[3])
    dst.cmd("migrate-incoming", uri=f"tcp:127.0.0.1:{port}")
    # QEMU's default cap is 128 MiB/s; lifted so that both sides are measured on the link, as migrationd's
    # default is uncapped
    src.cmd("migrate-set-parameters", **{"max-bandwidth": 1 << 40})
    t0 = time.monotonic()
    src.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
    while True:
        info = src.cmd("query-migrate")
        status = info.get("status")
        if status == "completed":
            break
        if status in ("failed", "cancelled"):
            raise SystemExit(f"qmp: migration {status}: {info}")
        time.sleep(0.01)
    wall = time.monotonic() - t0
    ram = info.get("ram", {})
    print(json.dumps({
        "total_s": info["total-time"] / 1000.0,
        "setup_s": info.get("setup-time", 0) / 1000.0,
        "downtime_ms": info.get("downtime", 0),
        "ram_bytes": ram.get("transferred", 0),
        "zero_pages": ram.get("duplicate", 0),
        "wall_s": wall,
    }))


if __name__ == "__main__":
    main()

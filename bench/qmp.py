#!/usr/bin/env python3
"""A minimal QMP client for bench/default-path-bench.sh: drives one QEMU precopy migration.

  qmp.py SRC_SOCK DST_SOCK PORT    migrates SRC to DST (listening on 127.0.0.1:PORT), uncapped, with QEMU's
                                   default 300 ms downtime limit; prints one JSON object: total_s, setup_s,
                                   downtime_ms, ram_bytes (transferred), duplicate pages (zero pages), wall_s
  ... --max-bandwidth BYTES_PER_S  caps the migration instead (QEMU's own default cap is 128 MiB/s)
  ... --auto-converge              turns QEMU's auto-converge on (vCPU throttling, cpu-throttle-initial 20 then
                                   +10 per iteration that does not converge, at most cpu-throttle-max 99); the
                                   JSON then also has max_throttle_pct, throttled_s (time with a throttle set),
                                   dirty_pages_rate_max (pages/s QEMU measured) and iterations
  ... --timeout SECONDS            cancels a migration that has not completed by then (status "timeout")
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
    opts = sys.argv[4:]
    cap = int(opts[opts.index("--max-bandwidth") + 1]) if "--max-bandwidth" in opts else 1 << 40
    timeout = float(opts[opts.index("--timeout") + 1]) if "--timeout" in opts else None
    auto_converge = "--auto-converge" in opts
    dst.cmd("migrate-incoming", uri=f"tcp:127.0.0.1:{port}")
    # QEMU's default cap is 128 MiB/s; lifted unless asked, so that both sides are measured on the link, as
    # migrationd's default is uncapped
    src.cmd("migrate-set-parameters", **{"max-bandwidth": cap})
    if auto_converge:
        src.cmd("migrate-set-capabilities", capabilities=[{"capability": "auto-converge", "state": True}])
    t0 = time.monotonic()
    src.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
    max_throttle, throttled_s, dirty_rate_max, last = 0, 0.0, 0, t0
    status = None
    while True:
        info = src.cmd("query-migrate")
        status = info.get("status")
        now = time.monotonic()
        throttle = info.get("cpu-throttle-percentage", 0)
        if throttle > 0:
            throttled_s += now - last
        last = now
        max_throttle = max(max_throttle, throttle)
        dirty_rate_max = max(dirty_rate_max, info.get("ram", {}).get("dirty-pages-rate", 0))
        if status == "completed":
            break
        if status in ("failed", "cancelled"):
            raise SystemExit(f"qmp: migration {status}: {info}")
        if timeout is not None and now - t0 > timeout:
            src.cmd("migrate_cancel")
            status = "timeout"
            break
        time.sleep(0.01)
    wall = time.monotonic() - t0
    ram = info.get("ram", {})
    out = {
        "total_s": info.get("total-time", wall * 1000) / 1000.0,
        "setup_s": info.get("setup-time", 0) / 1000.0,
        "downtime_ms": info.get("downtime", 0),
        "ram_bytes": ram.get("transferred", 0),
        "zero_pages": ram.get("duplicate", 0),
        "wall_s": wall,
    }
    if auto_converge or timeout is not None:
        out.update({"status": status, "max_throttle_pct": max_throttle, "throttled_s": round(throttled_s, 3),
                    "dirty_pages_rate_max": dirty_rate_max, "iterations": ram.get("dirty-sync-count", 0)})
    print(json.dumps(out))


if __name__ == "__main__":
    main()

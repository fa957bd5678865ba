#!/usr/bin/env python3
"""Warm-path benchmark: two homes on this machine, alice's daemon hosting the embedded broker, bob joined.

Measures, over the daemons' local API (the socket every verb uses):
  send     alice's `message.send` call: daemon -> outbox -> broker commit -> reply
  deliver  send start -> bob's daemon has stored it (fsynced) and pushed `inbox.message` to a subscriber
  acked    (--acked) send start -> alice's `message.status` shows bob's copy delivered (bob's ack reached the
           broker and the sender can see it), polling from the moment the delivery was seen. The polling itself
           loads the daemons and the broker, so send and deliver are slower in that mode.
and, with --cli, the wall time of the whole `claudemesh send` process on a warm daemon.

Usage: cargo build --release && python3 benches/warm_path.py [--runs 2000] [--cli 200] [--bin target/release/claudemesh]
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import tempfile
import time


def pct(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def report(name, ms):
    print(f"{name:8} n={len(ms):5}  p50 {pct(ms, 50):7.3f} ms  p99 {pct(ms, 99):7.3f} ms  "
          f"max {max(ms):7.3f} ms  mean {statistics.mean(ms):7.3f} ms")
    return {"n": len(ms), "p50_ms": pct(ms, 50), "p99_ms": pct(ms, 99), "max_ms": max(ms)}


class Local:
    """A local-API client: newline-delimited JSON-RPC on daemon.sock."""

    def __init__(self, home, session="cli"):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(os.path.join(home, "daemon.sock"))
        self.buf = b""
        self.next_id = 0
        self.notes = []
        self.call("daemon.hello", {"protocol": 1, "version": "bench", "build": "bench", "session": session,
                                   "name": None, "client": "bench"})

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("daemon closed the connection")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\n", 1)
        return json.loads(raw)

    def call(self, method, params):
        self.next_id += 1
        rid = self.next_id
        self.sock.sendall(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}).encode() + b"\n")
        while True:
            msg = self.line()
            if msg.get("id") == rid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]
            self.notes.append(msg)

    def notification(self):
        if self.notes:
            return self.notes.pop(0)
        return self.line()


def run(binary, home, *args):
    env = dict(os.environ, CLAUDEMESH_HOME=home, NO_COLOR="1")
    env.pop("CLAUDE_CODE_SESSION_ID", None)
    out = subprocess.run([binary, "--json", *args], env=env, capture_output=True, check=True)
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--cli", type=int, default=200)
    ap.add_argument("--bin", default="target/release/claudemesh")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--acked", action="store_true")
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    with tempfile.TemporaryDirectory() as tmp:
        alice, bob = os.path.join(tmp, "alice"), os.path.join(tmp, "bob")
        run(binary, alice, "new", "bench", "--name", "alice")
        url = run(binary, alice, "invite", "--uses", "1")["url"]
        run(binary, bob, "join", url, "--name", "bob")
        sender, receiver = Local(alice), Local(bob)
        receiver.call("inbox.subscribe", {"mesh": None, "backlog": False})
        for _ in range(50):  # warm up
            sender.call("message.send", {"to": "bob", "body": "warm-up"})
            receiver.notification()
        send_ms, deliver_ms, acked_ms = [], [], []
        for i in range(a.runs):
            t0 = time.perf_counter()
            r = sender.call("message.send", {"to": "bob", "body": f"bench {i}"})
            t1 = time.perf_counter()
            note = receiver.notification()
            t2 = time.perf_counter()
            assert not r["queued"] and note["params"]["id"] == r["id"], (r, note)
            send_ms.append((t1 - t0) * 1000)
            deliver_ms.append((t2 - t0) * 1000)
            if a.acked:
                while True:
                    st = sender.call("message.status", {"id": r["id"]})
                    if st["recipients"] and st["recipients"][0]["state"] != "queued":
                        break
                acked_ms.append((time.perf_counter() - t0) * 1000)
        results = {"send": report("send", send_ms), "deliver": report("deliver", deliver_ms)}
        if acked_ms:
            results["acked"] = report("acked", acked_ms)
        if a.cli:
            env = dict(os.environ, CLAUDEMESH_HOME=alice, NO_COLOR="1")
            env.pop("CLAUDE_CODE_SESSION_ID", None)
            cli_ms = []
            for i in range(a.cli):
                t0 = time.perf_counter()
                subprocess.run([binary, "send", "bob", f"cli {i}"], env=env, capture_output=True, check=True)
                cli_ms.append((time.perf_counter() - t0) * 1000)
            results["cli_send"] = report("cli send", cli_ms)
        for home in (alice, bob):
            run(binary, home, "daemon", "stop")
        if a.json:
            print(json.dumps(results))


if __name__ == "__main__":
    main()

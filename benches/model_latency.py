#!/usr/bin/env python3
"""Latency to the model: send -> the `notifications/claude/channel` line on the recipient's push-pipe stdout.

Everything is real and on this machine: a `claudemesh broker` process (embedded SQLite, production settings), two
homes (alice, bob) joined to one mesh by invite, alice's daemon, bob's daemon, and bob's push-pipe (`claudemesh
mcp`) started as Claude Code starts it (channel path, MCP handshake of Claude Code 2.1.330). Per message:

  send     alice's `message.send` over her daemon's local API (the socket every verb uses): outbox, seal,
           broker commit (fsync), reply
  model    send start -> bob's push-pipe wrote the channel notification for that message id to stdout (the line
           Claude Code reads): sender daemon -> broker -> recipient daemon (inbox commit, fsync) -> push-pipe

Messages go one at a time (the next after the previous one's line appeared), priority `next`.

Usage: cargo build --release && python3 benches/model_latency.py [--runs 10000] [--bin target/release/claudemesh]
       [--embedded]   (alice's daemon hosts the broker instead of a separate `claudemesh broker` process)
       [--keep DIR]   (work in DIR and keep the homes, the broker's data and every log)
       [--log FILTER] (CLAUDEMESH_LOG for every process started, e.g. claudemesh=debug)
"""

import argparse
import contextlib
import json
import os
import selectors
import socket
import statistics
import subprocess
import tempfile
import time

# Variables of a surrounding Claude Code session (or the developer's shell) that would change what runs.
SCRUB = ["CLAUDECODE", "CLAUDE_CODE_SESSION_ID", "CLAUDE_CODE_MESSAGING_SOCKET", "CLAUDE_CODE_MESSAGING_TOKEN",
         "CLAUDEMESH_PUSH", "CLAUDEMESH_CHANNELS", "CLAUDEMESH_NAME", "CLAUDEMESH_NO_DAEMON", "CLAUDEMESH_HOME",
         "CLAUDEMESH_MESH", "CLAUDEMESH_BROKER", "CLAUDEMESH_LOG", "RUST_LOG"]
TIMEOUT = 30.0
LOG = None  # CLAUDEMESH_LOG for every process started here (--log)


def pct(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, max(0, int(-(-p * len(s) // 100)) - 1))]


def report(name, ms):
    print(f"{name:6} n={len(ms):5}  p50 {pct(ms, 50):7.3f} ms  p99 {pct(ms, 99):7.3f} ms  "
          f"max {max(ms):7.3f} ms  mean {statistics.mean(ms):7.3f} ms")
    return {"n": len(ms), "p50_ms": pct(ms, 50), "p99_ms": pct(ms, 99), "max_ms": max(ms)}


def env_for(home, **extra):
    env = {k: v for k, v in os.environ.items() if k not in SCRUB}
    env.update(CLAUDEMESH_HOME=home, NO_COLOR="1", **extra)
    if LOG:
        env["CLAUDEMESH_LOG"] = LOG
    return env


def run(binary, home, *args):
    out = subprocess.run([binary, "--json", *args], env=env_for(home), capture_output=True, check=True,
                         timeout=TIMEOUT)
    return json.loads(out.stdout)


class Lines:
    """Newline-delimited reads from a pipe or socket with a deadline (never hangs)."""

    def __init__(self, fileobj, read):
        self.sel = selectors.DefaultSelector()
        self.sel.register(fileobj, selectors.EVENT_READ)
        self.read = read
        self.buf = b""

    def line(self, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sel.select(left):
                raise TimeoutError("no line within the timeout")
            chunk = self.read()
            if not chunk:
                raise RuntimeError("the other end closed")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\n", 1)
        return json.loads(raw)


class Local:
    """A local-API client: newline-delimited JSON-RPC on daemon.sock."""

    def __init__(self, home):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(os.path.join(home, "daemon.sock"))
        self.lines = Lines(self.sock, lambda: self.sock.recv(65536))
        self.next_id = 0
        self.call("daemon.hello", {"protocol": 1, "version": "bench", "build": "bench", "session": "cli",
                                   "name": None, "client": "bench"})

    def call(self, method, params):
        self.next_id += 1
        rid = self.next_id
        self.sock.sendall(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}).encode() + b"\n")
        while True:
            msg = self.lines.line()
            if msg.get("id") == rid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]


class PushPipe:
    """`claudemesh mcp` as Claude Code runs it, with the channel path selected."""

    def __init__(self, binary, home, logs):
        env = env_for(home, CLAUDE_CODE_SESSION_ID="sess-model-latency", CLAUDEMESH_NAME="bob-claude",
                      CLAUDEMESH_PUSH="channel")
        self.stderr = open(os.path.join(logs, "mcp.stderr"), "wb")
        self.proc = subprocess.Popen([binary, "mcp"], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr)
        fd = self.proc.stdout.fileno()
        self.lines = Lines(self.proc.stdout, lambda: os.read(fd, 65536))
        self.send({"jsonrpc": "2.0", "id": "server-discover-probe-1", "method": "server/discover", "params": {}})
        assert "error" in self.lines.line(), "server/discover must be refused"
        self.send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "claude-code", "version": "2.1.330"}}})
        init = self.lines.line()
        assert init["result"]["capabilities"]["experimental"]["claude/channel"] == {}, init
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def send(self, msg):
        self.proc.stdin.write(json.dumps(msg).encode() + b"\n")
        self.proc.stdin.flush()

    def channel_line(self, msg_id):
        while True:
            msg = self.lines.line()
            if msg.get("method") == "notifications/claude/channel" and msg["params"]["meta"]["msg_id"] == msg_id:
                return msg

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.stderr.close()


def start_broker(binary, tmp):
    data = os.path.join(tmp, "broker")
    log = open(os.path.join(tmp, "broker.log"), "wb")
    proc = subprocess.Popen([binary, "broker", "--listen", "127.0.0.1:0", "--data", data],
                            env=env_for(os.path.join(tmp, "broker-home")), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=log)
    fd = proc.stdout.fileno()
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    deadline = time.monotonic() + TIMEOUT
    while b"\n" not in buf:
        if not sel.select(max(0, deadline - time.monotonic())):
            proc.kill()
            raise TimeoutError("the broker did not print its ready line")
        buf += os.read(fd, 4096)
    line = buf.split(b"\n", 1)[0].decode()
    return proc, line.rsplit(" ", 1)[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10000)
    ap.add_argument("--bin", default="target/release/claudemesh")
    ap.add_argument("--embedded", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--keep", metavar="DIR", help="work in DIR (created) and keep it: homes, broker data and logs")
    ap.add_argument("--log", metavar="FILTER", help="CLAUDEMESH_LOG for the broker, daemons and push-pipe")
    a = ap.parse_args()
    global LOG
    LOG = a.log
    binary = os.path.abspath(a.bin)
    if a.keep:
        os.makedirs(a.keep, exist_ok=False)
    with (contextlib.nullcontext(os.path.abspath(a.keep)) if a.keep else tempfile.TemporaryDirectory()) as tmp:
        alice, bob = os.path.join(tmp, "alice"), os.path.join(tmp, "bob")
        broker = None
        new = ["new", "bench", "--name", "alice"]
        if not a.embedded:
            broker, url = start_broker(binary, tmp)
            new += ["--broker", url]
        pipe = None
        try:
            run(binary, alice, *new)
            invite = run(binary, alice, "invite", "--uses", "1")["url"]
            run(binary, bob, "join", invite, "--name", "bob")
            pipe = PushPipe(binary, bob, tmp)
            deadline = time.monotonic() + TIMEOUT
            while not any(p["name"] == "bob-claude" and p["online"] for p in run(binary, alice, "peers")["peers"]):
                if time.monotonic() > deadline:
                    raise TimeoutError("bob's push-pipe session never came online")
                time.sleep(0.05)
            sender = Local(alice)
            for i in range(50):  # warm up
                r = sender.call("message.send", {"to": "bob-claude", "body": f"warm-up {i}"})
                pipe.channel_line(r["id"])
            send_ms, model_ms = [], []
            for i in range(a.runs):
                t0 = time.perf_counter()
                r = sender.call("message.send", {"to": "bob-claude", "body": f"model latency {i}"})
                t1 = time.perf_counter()
                pipe.channel_line(r["id"])
                t2 = time.perf_counter()
                send_ms.append((t1 - t0) * 1000)
                model_ms.append((t2 - t0) * 1000)
            results = {"send": report("send", send_ms), "model": report("model", model_ms)}
            if a.json:
                print(json.dumps(results))
        finally:
            if pipe:
                pipe.close()
            for home in (alice, bob):
                subprocess.run([binary, "daemon", "stop"], env=env_for(home), capture_output=True, timeout=TIMEOUT)
            if broker:
                broker.kill()
                broker.wait()


if __name__ == "__main__":
    main()

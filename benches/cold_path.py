#!/usr/bin/env python3
"""Cold-path CLI costs: runs the real release binary against a real loopback broker and reports p50/p99/max.

Usage: cargo build --release && python3 benches/cold_path.py [--runs 200]
Each verb connects to the broker, authenticates, does its call and exits (no daemon yet).
"""
import argparse, json, os, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "claudemesh")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(args, home, check=True):
    env = dict(os.environ, CLAUDEMESH_HOME=home, NO_COLOR="1")
    env.pop("CLAUDE_CODE_SESSION_ID", None)
    r = subprocess.run([BIN] + args, env=env, capture_output=True, text=True)
    if check and r.returncode != 0:
        sys.exit(f"{' '.join(args)} failed: {r.stderr}")
    return r.stdout


def stats(samples):
    s = sorted(samples)
    pick = lambda q: s[min(len(s) - 1, int(q * len(s)))]
    return {"p50_ms": round(pick(0.50), 2), "p99_ms": round(pick(0.99), 2), "max_ms": round(s[-1], 2), "runs": len(s)}


def timed(args, home, runs):
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        run(args, home)
        out.append((time.perf_counter() - t) * 1000)
    return stats(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    a = ap.parse_args()
    if not os.path.exists(BIN):
        sys.exit("build first: cargo build --release")
    tmp = tempfile.mkdtemp(prefix="cm-bench-")
    port = free_port()
    broker = subprocess.Popen([BIN, "broker", "--listen", f"127.0.0.1:{port}", "--data", f"{tmp}/broker"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        broker.stdout.readline()
        alice, bob = f"{tmp}/alice", f"{tmp}/bob"
        run(["new", "bench", "--broker", f"ws://127.0.0.1:{port}/ws", "--name", "alice"], alice)
        url = json.loads(run(["invite", "--json"], alice))["url"]
        run(["join", url, "--name", "bob"], bob)
        results = {
            "--version": timed(["--version"], alice, a.runs),
            "peers --json": timed(["peers", "--json"], alice, a.runs),
            "send (cold)": timed(["send", "bob", "hello"], alice, a.runs),
            "inbox --json (empty)": timed(["inbox", "--json"], alice, a.runs),
        }
        # bob's inbox now holds `runs` queued messages: one inbox call receives, stores and acks them all.
        t = time.perf_counter()
        got = json.loads(run(["inbox", "--json"], bob))
        results[f"inbox --json ({a.runs} queued)"] = {"ms": round((time.perf_counter() - t) * 1000, 2),
                                                       "messages": len(got["messages"])}
        print(json.dumps(results, indent=2))
    finally:
        broker.terminate()
        broker.wait(timeout=10)


if __name__ == "__main__":
    main()

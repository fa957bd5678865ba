#!/usr/bin/env python3
"""CLI costs: runs the real release binary against a real loopback broker and reports p50/p99/max.

Usage: cargo build --release && python3 benches/cold_path.py [--runs 200]
Cold: CLAUDEMESH_NO_DAEMON=1, each verb connects to the broker, authenticates, does its call and exits.
Warm: the verb talks to the running daemon over daemon.sock.
Launch: `claudemesh launch` up to the exec of `claude` (a `claude` that exits at once, first on PATH), minus the
cost of running that `claude` directly.
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


def run(args, home, check=True, cold=False, extra=None):
    env = dict(os.environ, CLAUDEMESH_HOME=home, NO_COLOR="1", **(extra or {}))
    env.pop("CLAUDE_CODE_SESSION_ID", None)
    if cold:
        env["CLAUDEMESH_NO_DAEMON"] = "1"
    r = subprocess.run([BIN] + args, env=env, capture_output=True, text=True)
    if check and r.returncode != 0:
        sys.exit(f"{' '.join(args)} failed: {r.stderr}")
    return r.stdout


def stats(samples):
    s = sorted(samples)
    pick = lambda q: s[min(len(s) - 1, int(q * len(s)))]
    return {"p50_ms": round(pick(0.50), 2), "p99_ms": round(pick(0.99), 2), "max_ms": round(s[-1], 2), "runs": len(s)}


def timed(args, home, runs, cold=False, extra=None):
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        run(args, home, cold=cold, extra=extra)
        out.append((time.perf_counter() - t) * 1000)
    return stats(out)


def timed_exec(argv, runs):
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(argv, capture_output=True)
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
        for home in (alice, bob):  # the cold phase runs without daemons
            run(["daemon", "stop"], home)
        results = {
            "--version": timed(["--version"], alice, a.runs),
            "--help": timed(["--help"], alice, a.runs),
            "peers --json (cold)": timed(["peers", "--json"], alice, a.runs, cold=True),
            "send (cold)": timed(["send", "bob", "hello"], alice, a.runs, cold=True),
            "inbox --json (cold, empty)": timed(["inbox", "--json"], alice, a.runs, cold=True),
        }
        # bob's inbox now holds `runs` queued messages: one inbox call receives, stores and acks them all.
        t = time.perf_counter()
        got = json.loads(run(["inbox", "--json"], bob, cold=True))
        results[f"inbox --json (cold, {a.runs} queued)"] = {"ms": round((time.perf_counter() - t) * 1000, 2),
                                                             "messages": len(got["messages"])}
        run(["daemon", "status"], alice)  # nothing: status never starts one
        run(["peers"], alice)             # starts alice's daemon
        run(["peers"], bob)
        results["peers --json (warm)"] = timed(["peers", "--json"], alice, a.runs)
        results["send (warm)"] = timed(["send", "bob", "hello"], alice, a.runs)
        results["inbox --json (warm, empty)"] = timed(["inbox", "--json"], alice, a.runs)
        results["inbox --json --unread (warm, nothing new)"] = timed(["inbox", "--json", "--unread"], bob, a.runs)
        # Launch: a `claude` that exits at once, first on PATH.
        fake = f"{tmp}/fakebin"
        os.makedirs(fake)
        os.symlink("/bin/true", f"{fake}/claude")
        path = {"PATH": f"{fake}:{os.environ.get('PATH', '')}"}
        launch = timed(["launch"], alice, a.runs, extra=path)
        direct = timed_exec([f"{fake}/claude"], a.runs)
        results["launch until exec (claude = /bin/true)"] = launch
        results["/bin/true alone"] = direct
        results["launch overhead (p50 difference)"] = {"ms": round(launch["p50_ms"] - direct["p50_ms"], 2)}
        for home in (alice, bob):
            run(["daemon", "stop"], home)
        print(json.dumps(results, indent=2))
    finally:
        broker.terminate()
        broker.wait(timeout=10)


if __name__ == "__main__":
    main()

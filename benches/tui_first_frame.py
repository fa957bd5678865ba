#!/usr/bin/env python3
"""TUI time to first frame: the real release binary under a pseudo-terminal (100x30), timed from spawn to the first
painted content, p50/p99/max over repeated runs.

Usage: cargo build --release && python3 benches/tui_first_frame.py [--runs 50]

welcome: bare `claudemesh` in a fresh home (first run): until the alternate screen is entered and the tagline is
  painted. The personal mesh is then created on the daemon's embedded broker and `claude` (a fake that exits at
  once, first on PATH) takes over; each run ends with `daemon stop` so the next one is a first run again.
dash: `claudemesh dash` on a mesh with a running daemon (created once): until the mesh's name is painted; then `q`.
"""
import argparse, fcntl, os, pty, select, shutil, signal, struct, subprocess, sys, tempfile, termios, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "claudemesh")
ALT_SCREEN = b"\x1b[?1049h"
DSR = b"\x1b[6n"
DEADLINE_S = 20


def stats(samples):
    s = sorted(samples)
    pick = lambda q: s[min(len(s) - 1, int(q * len(s)))]
    return {"p50_ms": round(pick(0.50), 2), "p99_ms": round(pick(0.99), 2), "max_ms": round(s[-1], 2), "runs": len(s)}


def base_env(home, path_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDEMESH_", "CLAUDE_CODE_"))}
    env.update(CLAUDEMESH_HOME=home, LANG="C.UTF-8", TERM="xterm-256color", USER="bench",
               CLAUDEMESH_CLIPBOARD="none", PATH=f"{path_dir}:{os.environ.get('PATH', '')}")
    env.pop("NO_COLOR", None)
    return env


def spawn_pty(argv, env):
    """Starts argv on a new pty (100x30); returns (process, master fd)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen(argv, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                            close_fds=True)
    os.close(slave)
    return proc, master


def until_painted(master, marker, started):
    """Reads the pty until `marker` appears after the alternate screen was entered; ms since `started`."""
    seen = b""
    deadline = started + DEADLINE_S
    while time.perf_counter() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        # Answer the cursor position query (DSR) as a terminal would; `enter` asks once.
        if DSR in chunk:
            os.write(master, b"\x1b[1;1R")
        seen += chunk
        at = seen.find(ALT_SCREEN)
        if at >= 0 and marker in seen[at:]:
            return (time.perf_counter() - started) * 1000
    sys.exit(f"no first frame with {marker!r} within {DEADLINE_S} s; got {seen[-400:]!r}")


def drain_until_exit(proc, master, timeout=DEADLINE_S):
    deadline = time.time() + timeout
    while proc.poll() is None and time.time() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                os.read(master, 65536)
            except OSError:
                break
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    os.close(master)


def cli(args, env):
    return subprocess.run([BIN] + args, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)


def welcome_runs(runs, work, path_dir):
    out = []
    for i in range(runs):
        home = os.path.join(work, f"first-{i}")
        env = base_env(home, path_dir)
        t = time.perf_counter()
        proc, master = spawn_pty([BIN], env)
        out.append(until_painted(master, b"A peer mesh for Claude Code", t))
        drain_until_exit(proc, master)
        cli(["daemon", "stop"], env)
        shutil.rmtree(home, ignore_errors=True)
    return stats(out)


def dash_runs(runs, work, path_dir):
    home = os.path.join(work, "dash")
    env = base_env(home, path_dir)
    # One first run (non-interactive) makes the personal mesh and leaves the daemon running.
    made = cli(["-y", "new", "dashbench"], env)
    if made.returncode != 0:
        sys.exit(f"new failed: {made.stderr}")
    out = []
    try:
        for _ in range(runs):
            t = time.perf_counter()
            proc, master = spawn_pty([BIN, "dash"], env)
            out.append(until_painted(master, b"dashbench", t))
            os.write(master, b"q")
            drain_until_exit(proc, master)
    finally:
        cli(["daemon", "stop"], env)
    return stats(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50)
    a = ap.parse_args()
    if not os.path.exists(BIN):
        sys.exit(f"{BIN} missing: cargo build --release first")
    with tempfile.TemporaryDirectory() as work:
        path_dir = os.path.join(work, "bin")
        os.makedirs(path_dir)
        fake = os.path.join(path_dir, "claude")
        with open(fake, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(fake, 0o755)
        print({"welcome (first run)": welcome_runs(a.runs, work, path_dir)})
        print({"dash": dash_runs(a.runs, work, path_dir)})


if __name__ == "__main__":
    main()

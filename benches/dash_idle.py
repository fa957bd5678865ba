#!/usr/bin/env python3
"""Idle CPU of a running `claudemesh dash`: one home on the embedded broker, `dash` in a private tmux server, and
the process's utime+stime from /proc/PID/stat before and after an idle window (default 10 s). Nothing is typed
and nothing is sent during the window, so the loop should only wake for its one-second tick, and draw nothing.

Usage: cargo build --release && python3 benches/dash_idle.py [--secs 10] [--bin target/release/claudemesh]
"""

import argparse
import json
import os
import subprocess
import tempfile
import time


def run(binary, home, *args):
    env = dict(os.environ, CLAUDEMESH_HOME=home, NO_COLOR="1")
    out = subprocess.run([binary, "--json", *args], env=env, capture_output=True, check=True)
    return json.loads(out.stdout)


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat; after the command name they are at index 11 and 12.
    return int(fields[11]) + int(fields[12])


def wait(cond, secs=20.0):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secs", type=float, default=10.0)
    ap.add_argument("--bin", default="target/release/claudemesh")
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    hz = os.sysconf("SC_CLK_TCK")
    with tempfile.TemporaryDirectory() as tmp:
        home = os.path.join(tmp, "home")
        run(binary, home, "new", "idle", "--name", "alice")
        sock = os.path.join(tmp, "tmux.sock")
        pidfile = os.path.join(tmp, "pid")
        script = f"CLAUDEMESH_HOME={home} LANG=C.UTF-8 TERM=xterm-256color exec {binary} dash"
        subprocess.run(["tmux", "-S", sock, "new-session", "-d", "-x", "120", "-y", "40", "sh", "-c",
                        f"echo $$ > {pidfile}; {script}"], check=True)
        try:
            screen = lambda: subprocess.run(["tmux", "-S", sock, "capture-pane", "-p"], capture_output=True,
                                            text=True).stdout
            assert wait(lambda: "alice" in screen()), screen()
            pid = int(open(pidfile).read().strip())  # exec: the shell's pid is dash's
            # Let the first frames and the subscription settle, then measure an idle window.
            time.sleep(1.0)
            t0, c0 = time.monotonic(), cpu_ticks(pid)
            time.sleep(a.secs)
            t1, c1 = time.monotonic(), cpu_ticks(pid)
            cpu_s = (c1 - c0) / hz
            print(f"dash idle: {cpu_s:.3f} s CPU over {t1 - t0:.1f} s wall = {100 * cpu_s / (t1 - t0):.2f} % "
                  f"of one core (clock ticks: {c1 - c0}, {hz} per s)")
        finally:
            subprocess.run(["tmux", "-S", sock, "kill-server"], capture_output=True)
            subprocess.run([binary, "daemon", "stop"], env=dict(os.environ, CLAUDEMESH_HOME=home),
                           capture_output=True)


if __name__ == "__main__":
    main()

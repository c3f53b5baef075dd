#!/usr/bin/env python3
"""Idle-socket figures of `keywarden serve`, before and after (docs/SERVE.md, *Connections*).

Usage: scripts/measure-idle-sockets.py OLD_BINARY NEW_BINARY
For each binary: how long an idle socket stays open (up to 40 s), and, under `ulimit -n 128`,
whether `/healthz` is answered (within 15 s) after 300 idle sockets. Loopback only; each
server is killed after its measurement.
"""
import os, re, shutil, socket, subprocess, sys, tempfile, time
KEY = "measure-key-0123456789abcdef"
DIRS = []
def start(binary, nofile):
    d = tempfile.mkdtemp()
    DIRS.append(d)
    open(d + "/keys", "w").write(KEY + "\n")
    os.chmod(d + "/keys", 0o600)
    p = subprocess.Popen(["sh", "-c", 'ulimit -n "$0" && exec "$@"', str(nofile), binary, "serve",
                          "--listen", "127.0.0.1:0", "--data-dir", d + "/data", "--api-key-file", d + "/keys"],
                         stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    line = p.stderr.readline().decode()
    addr = re.search(r"://([0-9.:]+)", line).group(1)
    h, port = addr.split(":")
    return p, (h, int(port))
def healthz(addr, limit):
    t = time.monotonic()
    try:
        s = socket.create_connection(addr, timeout=limit)
    except OSError:
        return False, time.monotonic() - t
    s.settimeout(limit)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            c = s.recv(4096)
            if not c: break
            data += c
        return data.startswith(b"HTTP/1.1 200"), time.monotonic() - t
    except Exception as e:
        return False, time.monotonic() - t
    finally:
        s.close()
def idle_lifetime(addr, limit):
    t = time.monotonic()
    s = socket.create_connection(addr)
    s.settimeout(limit)
    try:
        s.recv(1)
        return time.monotonic() - t
    except socket.timeout:
        return None
    except Exception:
        return time.monotonic() - t
for name, binary in [("before", sys.argv[1]), ("after", sys.argv[2])]:
    p, addr = start(binary, 4096)
    life = idle_lifetime(addr, 40)
    p.kill(); p.wait()
    p, addr = start(binary, 128)
    ok0, _ = healthz(addr, 5)
    t = time.monotonic()
    flood, failed = [], 0
    for _ in range(300):
        try:
            flood.append(socket.create_connection(addr, timeout=2))
        except OSError:
            failed += 1
    flooded = time.monotonic() - t
    ok, took = healthz(addr, 15)
    for s in flood: s.close()
    p.kill(); p.wait()
    print(f"{name}: idle socket closed after {'>40 s (still open)' if life is None else f'{life:.2f} s'}; "
          f"ulimit -n 128 + 300 idle sockets (opened in {flooded:.2f} s, {failed} connects timed out): /healthz {'200' if ok else 'NOT answered'} after {took:.3f} s")
for d in DIRS:
    shutil.rmtree(d, ignore_errors=True)

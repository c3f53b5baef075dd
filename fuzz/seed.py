#!/usr/bin/env python3
"""Builds the seed corpora of the fuzz targets from the real samples in ../shared (datasets,
Sigma rules, token vectors, intel) and the crates' test fixtures (and, with KEYWARDEN_SIM_DIR set, a simulated tenant's truth and
hunt output for `sim_eval`).

    python3 fuzz/seed.py OUT_DIR      # writes OUT_DIR/<target>/<name>

Seeds are small files or slices of big ones (each at most MAX bytes). The committed corpora
(fuzz/corpus/<target>) are what a campaign grew from these seeds, minimised with `cargo fuzz
cmin`; this script is how to start again from the samples.
"""
import glob
import gzip
import hashlib
import json
import os
import sys
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared")
FIX = os.path.join(ROOT, "crates", "keywarden-ingest", "tests", "fixtures")
MAX = 16 * 1024


def read(path, limit=MAX):
    with open(path, "rb") as f:
        return f.read(limit)


def lines_slice(data, limit=MAX):
    """Whole lines of `data` up to `limit` bytes."""
    if len(data) <= limit:
        return data
    cut = data.rfind(b"\n", 0, limit)
    return data[: cut + 1] if cut > 0 else data[:limit]


class Seeds:
    def __init__(self, out):
        self.out = out
        self.count = {}

    def add(self, target, data, tag=""):
        d = os.path.join(self.out, target)
        os.makedirs(d, exist_ok=True)
        name = (tag + "-" if tag else "") + hashlib.sha1(data).hexdigest()[:16]
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        self.count[target] = self.count.get(target, 0) + 1

    def files(self, target, pattern, limit=MAX, tag=""):
        for p in sorted(glob.glob(pattern, recursive=True)):
            if os.path.isfile(p):
                self.add(target, lines_slice(read(p, 8 * limit), limit), tag)


def zstd_frame(data):
    """A zstd frame holding `data` as one raw block (no compressor needed)."""
    import struct

    # Frame header: magic, descriptor (single segment, 4-byte content size), content size.
    head = b"\x28\xb5\x2f\xfd" + bytes([0xA0]) + struct.pack("<I", len(data))
    out = head
    rest = data
    while True:
        block, rest = rest[:131072], rest[131072:]
        last = 1 if not rest else 0
        out += struct.pack("<I", (len(block) << 3) | last)[:3] + block
        if not rest:
            return out


def main():
    out = sys.argv[1]
    s = Seeds(out)
    csvs = [f"{FIX}/ual/*.csv", f"{FIX}/hostile/*.csv", f"{FIX}/defender/*.csv"]
    # Readers.
    for pat in csvs:
        s.files("ingest_csv", pat, 4096)
    purview = read(f"{SHARED}/datasets/huntress-ctf-2023-purview/purview.csv", 1 << 20)
    body = purview.split(b"\n", 1)[1]
    for i in range(0, min(len(body), 64 * 1024), 4096):
        s.add("ingest_csv", lines_slice(body[i:], 4096), "purview")
    s.add("ingest_csv", lines_slice(purview, 4096), "purview-head")
    for p in sorted(glob.glob(f"{SHARED}/datasets/evtx-attack-samples/**/*.evtx", recursive=True))[::12]:
        evtx = read(p, 4096 + 65536)
        for keep in (512, 2048, 8192):  # truncated inside the first chunk
            s.add("ingest_evtx", evtx[: 4096 + keep], f"evtx{keep}")
    json_sources = [
        f"{FIX}/signin/*", f"{FIX}/graph/*", f"{FIX}/audit/*", f"{FIX}/windows/*",
        f"{FIX}/exporters/**/*.json", f"{SHARED}/datasets/otrf-goldensaml-mail-access/*.json",
        f"{SHARED}/datasets/elastic-azure-fixtures/*",
    ]
    for pat in json_sources:
        s.files("ingest_json", pat, 8192)
        s.files("ingest_appended", pat, 4096)
    for pat in [f"{FIX}/ual/*.json*", f"{FIX}/defender/*", f"{FIX}/exporters/extractor-suite/UAL*",
                f"{SHARED}/datasets/otrf-goldensaml-mail-access/*.json",
                f"{ROOT}/crates/keywarden-detect/tests/fixtures/ual-*.jsonl"]:
        s.files("ingest_ual_json", pat, 8192)
    s.files("ingest_http", f"{FIX}/http/*", 4096)
    # The JSON value parser: small JSON documents of every kind the repo reads.
    for pat in [f"{FIX}/signin/*.json", f"{FIX}/audit/*.json", f"{FIX}/ual/*.json",
                f"{SHARED}/token-vectors/rfc7520-cookbook/jwk/*.json",
                f"{SHARED}/token-vectors/rfc7638/*.json"]:
        s.files("model_value", pat, 4096)
    for line in read(f"{FIX}/signin/log-analytics.jsonl").splitlines()[:8]:
        s.add("model_value", line, "line")
    # Tokens: compact JWS from the RFC 7520 cookbook and Wycheproof, key sets, the policy.
    for p in sorted(glob.glob(f"{SHARED}/token-vectors/rfc7520-cookbook/jws/*.json")):
        doc = json.loads(read(p, 1 << 20))
        compact = doc.get("output", {}).get("compact")
        if compact:
            s.add("token_validate", compact.encode(), "rfc7520")
    wy = json.loads(read(f"{SHARED}/token-vectors/wycheproof-jose/json_web_signature_test.json", 1 << 24))
    for g in wy["testGroups"]:
        for t in g["tests"][:6]:
            if isinstance(t.get("jws"), str):
                s.add("token_validate", t["jws"].encode(), "wycheproof")
        for k in ("private", "public"):
            if isinstance(g.get(k), dict):
                s.add("token_validate", json.dumps({"keys": [g[k]]}).encode(), "jwks")
    s.files("token_validate", f"{SHARED}/token-vectors/rfc7520-cookbook/jwk/*.json", 4096, "jwk")
    # Sigma: the cloud rules, a sample of the Windows ones, and the crate's fixtures.
    s.files("sigma_rule", f"{SHARED}/sigma/rules/cloud/**/*.yml", 8192)
    for p in sorted(glob.glob(f"{SHARED}/sigma/rules/windows/**/*.yml", recursive=True))[::40]:
        s.add("sigma_rule", read(p, 8192))
    for p in sorted(glob.glob(f"{SHARED}/sigma/rules-emerging-threats/**/*.yml", recursive=True))[::40]:
        s.add("sigma_rule", read(p, 8192))
    s.files("sigma_rule", f"{ROOT}/crates/keywarden-sigma/tests/fixtures/rules/*.yml", 8192)
    # serve: the readers' samples, plain, gzip and zstd; the decompression stack.
    for p in sorted(glob.glob(f"{FIX}/**/*.json*", recursive=True))[::3] + sorted(glob.glob(f"{FIX}/ual/*.csv")):
        data = lines_slice(read(p), 4096)
        s.add("serve_ingest", data)
        s.add("serve_ingest", gzip.compress(data, 6, mtime=0), "gz")
        s.add("serve_ingest", zstd_frame(data), "zst")
        # serve_decompress: byte 0 the cap, byte 1 the layers (see the target's doc).
        for layers in (0x00, 0x01, 0x05, 0x15, 0x03, 0x0D, 0x47):
            s.add("serve_decompress", bytes([6, layers]) + data[:1024], f"l{layers:02x}")
    s.add("serve_decompress", bytes([6, 0x80]) + read(f"{FIX}/hostile/ual-truncated.csv.gz"), "raw-gz")
    s.add("serve_decompress", bytes([6, 0x80]) + gzip.compress(gzip.compress(b"{}\n" * 4096, mtime=0), mtime=0), "raw-nested")
    s.add("serve_ingest", read(f"{FIX}/hostile/ual-truncated.csv.gz"), "truncated-gz")
    # Detection pack: sign-ins NUL audit records.
    det = f"{ROOT}/crates/keywarden-detect/tests/fixtures"
    for a, b in [("signins.jsonl", "ual-intrusion.jsonl"), ("signins-noninteractive.jsonl", "ual-intrusion.jsonl")]:
        s.add("detect_pack", lines_slice(read(f"{det}/{a}"), 8192) + b"\0" + lines_slice(read(f"{det}/{b}"), 8192))
    s.add("detect_pack", lines_slice(read(f"{det}/ual-clean.jsonl"), 8192), "ual")
    s.files("detect_intel", f"{SHARED}/intel/*", 8192)
    for spec in [b"all@2023-06-01T00:00:00Z/2023-06-22T00:00:00Z", b"interactive,non-interactive",
                 b"service-principal,managed-identity@/2023-07-01T00:00:00Z", b"all"]:
        s.add("detect_coverage", spec, "spec")
    # Reports, dashboard, eval, gateway.
    rep = f"{ROOT}/crates/keywarden-report/tests/fixtures"
    s.add("report_writers", read(f"{rep}/alerts.jsonl").replace(b'","', b'\xff'), "alerts")
    for line in read(f"{rep}/alerts.jsonl").splitlines()[:4]:
        s.add("serve_dashboard", line, "alert")
        s.add("sim_eval", b'{"attacks":[]}\0' + line + b"\0" + read(f"{rep}/exposure.json"), "eval")
    # `keywarden simulate --out D/logs --users 4 --days 8 --truth D/truth.json` then
    # `keywarden hunt D/logs --out D/out`: a real truth/alerts/exposure triple for eval.
    sim = os.environ.get("KEYWARDEN_SIM_DIR")
    if sim:
        s.add("sim_eval", read(f"{sim}/truth.json", 1 << 20) + b"\0" + read(f"{sim}/out/alerts.jsonl", 1 << 20)
              + b"\0" + read(f"{sim}/out/exposure.json", 1 << 20), "simulated")
    s.add("serve_dashboard", b"kw_session=0123456789abcdef; <script>\"'&", "hostile")
    for line in read(f"{FIX}/signin/envelopes-hostile.jsonl").splitlines()[:4]:
        s.add("gateway_check", line, "hostile")
    s.add("gateway_check", b"Bearer eyJhbGciOiJFZERTQSJ9.e30.c2ln", "bearer")
    s.add("gateway_check", b"10.0.0.1, 192.168.1.7, 127.0.0.1", "xff")
    # The damage target: sample, cut (3 bytes), patches.
    for pick in range(9):
        s.add("ingest_damage", bytes([pick, 0xff, 0xff, 0xff]), "whole")
        s.add("ingest_damage", bytes([pick, 0x00, 0x00, 0x80]), "half")
        s.add("ingest_damage", bytes([pick, 0xff, 0xff, 0xff, 0x10, 0x12, 0x00, 0x41]), "patch")
    for t, n in sorted(s.count.items()):
        print(f"{t}\t{n}")


if __name__ == "__main__":
    main()

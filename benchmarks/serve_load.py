"""Load-test `seqattn serve` on 127.0.0.1: N concurrent clients, with request batching on and off.

    python benchmarks/serve_load.py --run RUN_DIR [--clients 50] [--seconds 20] [--json PATH]
    python benchmarks/serve_load.py --run RUN_DIR --modes batching,abuse --abusers 2

Mode `abuse` is `batching` with `--abusers` extra clients sending the heaviest requests the
server accepts (beam 64, 8 hypotheses, long texts, as many as the work limit allows) back to
back: compare its normal clients' latencies with those of `batching` alone.

For each mode the script starts the server as a subprocess on a free loopback port, waits until
it answers, runs `--clients` threads that each send one-sentence requests (keep-alive HTTP/1.1)
in a loop for `--seconds`, stops the server, and reports requests/s, sentences/s, latency
percentiles, errors and the server's own batch counters. Bounded in time and count; it only
ever connects to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_json  # noqa: E402

HOST = "127.0.0.1"
JSON = {"Content-Type": "application/json"}
MAX_CLIENTS, MAX_SECONDS = 500, 120
SENTENCES = [
    "Zwei Hunde spielen im Schnee.",
    "Ein Mann fährt mit dem Fahrrad die Straße entlang.",
    "Eine Frau sitzt auf einer Bank im Park.",
    "Ein kleines Mädchen klettert auf ein Klettergerüst.",
    "Drei Männer stehen vor einem Gebäude.",
    "Ein Junge springt in einen Pool.",
    "Ein Hund rennt über eine grüne Wiese.",
    "Zwei Kinder spielen am Strand.",
    "Eine Gruppe von Menschen wartet an einer Bushaltestelle.",
    "Ein Mann in einem blauen Hemd arbeitet auf einer Baustelle.",
    "Eine Frau mit einem roten Hut geht die Straße hinunter.",
    "Ein Mann spielt Gitarre auf der Bühne.",
    "Ein Kind isst ein Eis.",
    "Zwei Frauen unterhalten sich in einem Café.",
    "Ein Radfahrer fährt einen Berg hinauf.",
    "Ein schwarzer Hund fängt einen Ball.",
    "Ein Mann liest eine Zeitung auf einer Bank.",
    "Leute gehen auf einem belebten Markt einkaufen.",
    "Ein Mädchen in einem rosa Kleid tanzt.",
    "Ein älterer Mann geht mit seinem Hund spazieren.",
    "Ein Fußballspieler schießt den Ball ins Tor.",
    "Eine Frau fotografiert die Berge.",
    "Ein Junge fährt Skateboard in einem Park.",
    "Zwei Männer fischen von einem Boot aus.",
    "Ein Koch bereitet in einer Küche Essen zu.",
    "Ein Baby schläft in einem Kinderwagen.",
    "Eine Frau joggt am Fluss entlang.",
    "Kinder spielen im Wasser eines Brunnens.",
    "Ein Mann repariert ein Auto.",
    "Eine Band spielt auf einem Straßenfest.",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(run: str, port: int, batching: bool, log) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "seqattn.serve", run, "--host", HOST, "--port", str(port),
           "--log-level", "warning", "--max-queue", "100000"]
    if not batching:
        cmd.append("--no-batching")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)


def get_json(port: int, path: str, timeout: float = 5.0) -> dict:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 180.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode}")
        try:
            return get_json(port, "/healthz", timeout=2.0)
        except (OSError, http.client.HTTPException, ValueError):
            time.sleep(0.25)
    raise RuntimeError(f"the server did not answer within {timeout:.0f} s")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def client(port: int, sentences: list[str], offset: int, deadline: float, beam: int | None,
           out: list[tuple[float, object]]) -> None:
    """One client: one-sentence requests back to back until the deadline."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    i = offset
    while time.perf_counter() < deadline:
        body = {"texts": [sentences[i % len(sentences)]]}
        if beam is not None:
            body["beam"] = beam
        payload = json.dumps(body).encode()
        start = time.perf_counter()
        wait = 0.0
        try:
            conn.request("POST", "/v1/translate", payload, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            status: object = resp.status
            if resp.status == 503:
                wait = min(float(resp.getheader("Retry-After") or 1), 1.0)
        except (OSError, http.client.HTTPException) as exc:
            status = type(exc).__name__
            conn.close()
            conn = http.client.HTTPConnection(HOST, port, timeout=30)
        out.append((time.perf_counter() - start, status))
        if wait:
            time.sleep(wait)
        i += 1
    conn.close()


def heavy_body(port: int, sentence: str) -> dict:
    """The largest request of long texts at beam 64 the server accepts (halving until no 422)."""
    text = " ".join([sentence] * 6)
    for n in (32, 16, 8, 4, 2, 1):
        body = {"texts": [text] * n, "beam": 64, "n_best": 8}
        conn = http.client.HTTPConnection(HOST, port, timeout=300)
        try:
            conn.request("POST", "/v1/translate", json.dumps(body).encode(), JSON)
            resp = conn.getresponse()
            resp.read()
        finally:
            conn.close()
        if resp.status != 422:
            return body
    raise RuntimeError("the server refuses even one long text at beam 64")


def abuser(port: int, body: dict, stop: threading.Event, out: list) -> None:
    conn = http.client.HTTPConnection(HOST, port, timeout=300)
    while not stop.is_set():
        try:
            conn.request("POST", "/v1/translate", json.dumps(body).encode(), JSON)
            resp = conn.getresponse()
            resp.read()
            out.append(resp.status)
        except (OSError, http.client.HTTPException) as exc:
            out.append(type(exc).__name__)
            conn.close()
            conn = http.client.HTTPConnection(HOST, port, timeout=300)
    conn.close()


def percentile(sorted_values: list[float], p: float) -> float | None:
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100 * len(sorted_values)) - 1))  # nearest rank
    return sorted_values[k]


def run_mode(run: str, batching: bool, clients: int, seconds: float, sentences: list[str],
             beam: int | None, abusers: int = 0) -> dict:
    port = free_port()
    with tempfile.TemporaryFile("w+") as log:
        proc = start_server(run, port, batching, log)
        try:
            wait_ready(port, proc)
            warm: list = []
            client(port, sentences, 0, time.perf_counter() + 1.0, beam, warm)  # load caches, first calls
            stop, abused = threading.Event(), []
            heavy = [threading.Thread(target=abuser, daemon=True,
                                      args=(port, heavy_body(port, sentences[0]), stop, abused))
                     for _ in range(abusers)]
            for t in heavy:
                t.start()
            if heavy:
                time.sleep(2.0)  # the heavy lane is busy before the normal clients start
            before = get_json(port, "/healthz")["batching"]
            results: list[tuple[float, object]] = []
            start = time.perf_counter()
            threads = [threading.Thread(target=client, daemon=True,
                                        args=(port, sentences, i, start + seconds, beam, results))
                       for i in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(seconds + 60)
            elapsed = time.perf_counter() - start
            after = get_json(port, "/healthz")["batching"]
            stop.set()
            for t in heavy:
                t.join(300)
        except Exception:
            log.seek(0)
            sys.stderr.write(log.read()[-4000:])
            raise
        finally:
            stop_server(proc)
    ok = sorted(lat for lat, status in results if status == 200)
    errors: dict[str, int] = {}
    for _, status in results:
        if status != 200:
            errors[str(status)] = errors.get(str(status), 0) + 1
    (name,) = after  # one model
    calls = after[name]["batches"] - before[name]["batches"]
    served = after[name]["requests"] - before[name]["requests"]
    ms = 1000.0
    return {
        "mode": ("abuse" if abusers else "batching") if batching else "no-batching",
        "abusers": abusers, "abusive_requests": {str(k): abused.count(k) for k in set(abused)},
        "requests": len(results), "ok": len(ok), "errors": errors, "seconds": round(elapsed, 2),
        "requests_per_s": round(len(ok) / elapsed, 2), "sentences_per_s": round(len(ok) / elapsed, 2),
        "latency_ms": {f"p{p}": None if percentile(ok, p) is None else round(percentile(ok, p) * ms, 1)
                       for p in (50, 95, 99)},
        "model_calls": calls, "mean_batch_requests": round(served / calls, 2) if calls else None,
    }


def table(rows: list[dict]) -> str:
    head = ["mode", "req/s", "sent/s", "p50 ms", "p95 ms", "p99 ms", "errors", "model calls", "req/call"]
    lines = [head]
    for r in rows:
        lat = r["latency_ms"]
        lines.append([r["mode"], str(r["requests_per_s"]), str(r["sentences_per_s"]), str(lat["p50"]),
                      str(lat["p95"]), str(lat["p99"]), str(sum(r["errors"].values())), str(r["model_calls"]),
                      str(r["mean_batch_requests"])])
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    def fmt(row: list[str]) -> str:
        return " | ".join(c.ljust(w) for c, w in zip(row, widths))

    return "\n".join([fmt(lines[0]), "-+-".join("-" * w for w in widths), *map(fmt, lines[1:])])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="trained run directory to serve")
    p.add_argument("--clients", type=int, default=50,
                   help=f"concurrent clients (1..{MAX_CLIENTS}, default 50)")
    p.add_argument("--seconds", type=float, default=20.0,
                   help=f"load duration per mode (1..{MAX_SECONDS}, default 20)")
    p.add_argument("--sentences", metavar="FILE",
                   help="one sentence per line (default: built-in German list)")
    p.add_argument("--beam", type=int, help="beam size to request (default: the run's decode.beam)")
    p.add_argument("--modes", default="batching,no-batching",
                   help="comma-separated: batching, no-batching, abuse (batching, plus --abusers heavy "
                   "clients)")
    p.add_argument("--abusers", type=int, default=2, help="heavy clients in mode abuse (default 2)")
    p.add_argument("--json", metavar="PATH", help="also write the results here")
    a = p.parse_args(argv)
    if not 1 <= a.clients <= MAX_CLIENTS or not 1 <= a.seconds <= MAX_SECONDS:
        p.error(f"--clients must be 1..{MAX_CLIENTS} and --seconds 1..{MAX_SECONDS}")
    if not (Path(a.run) / "config.yaml").is_file():
        p.error(f"{a.run}: not a seqattn run directory")
    modes = [m.strip() for m in a.modes.split(",") if m.strip()]
    if not modes or set(modes) - {"batching", "no-batching", "abuse"}:
        p.error("--modes takes batching, no-batching and/or abuse")
    sentences = SENTENCES
    if a.sentences:
        lines = Path(a.sentences).read_text(encoding="utf-8").splitlines()
        sentences = [s.strip() for s in lines if s.strip()]
        if not sentences:
            p.error(f"{a.sentences}: no sentences")
    rows = []
    for mode in modes:
        print(f"[{mode}] {a.clients} clients for {a.seconds:g} s ...", file=sys.stderr, flush=True)
        rows.append(run_mode(a.run, mode != "no-batching", a.clients, a.seconds, sentences, a.beam,
                             a.abusers if mode == "abuse" else 0))
    print(table(rows))
    report = {"run": str(a.run), "clients": a.clients, "seconds": a.seconds, "beam": a.beam,
              "sentences": len(sentences), "cpu_count": os.cpu_count(), "python": platform.python_version(),
              "machine": platform.platform(), "results": rows}
    if a.json:
        write_json(a.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())

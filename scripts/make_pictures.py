"""Remake the pictures in the docs from real trained runs.

    python scripts/make_pictures.py --koen runs/koen --koen-second runs/koen-additive \\
        --g2p runs/g2p --out docs/images

Writes, into --out:

- studio-stepper.png, studio-why-not.png, studio-beam-tree.png (the studio on --koen) and
  studio-side-by-side.png (--koen beside --koen-second): `seqattn serve` is started on a free
  127.0.0.1 port in its own process group (always stopped again, the whole group), and the page
  is driven in headless Chromium (Debian's /usr/bin/chromium through Playwright) at a viewport
  --width CSS pixels wide. Each picture is cropped to its view, so it is at most --width CSS
  pixels wide: shown at that width or wider, its text is as large as on the page. --scale is
  the device pixel ratio (2: sharp when a browser shows it at half its pixel width).
- g2p-attention.png: the attention of --g2p on --word, drawn by seqattn.viz.save_heatmap (the
  drawing code of `seqattn translate --attention-out`).

The sentence is --sentence (default 저는 AI를 좋아합니다, the main job's last sample) and the
output typed into "Why not…?" is --expected (default "I like AI."). The stepper is shown at
the decoding step where greedy decoding first leaves --expected, on the weights (step 4 of
7); the beam tree has the winner's node at that position clicked. Any of --koen / --g2p may
be left out to remake only the other pictures (--koen-second only adds side by side).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(runs: list[Path], log_path: Path, timeout: float = 120.0) -> Iterator[str]:
    """`seqattn serve RUNS` on a free port, in its own process group; yields its URL once
    /healthz answers. On leaving (also on error or Ctrl-C) the whole group is stopped:
    SIGTERM, then SIGKILL after 15 s."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "seqattn", "serve", *map(str, runs), "--port", str(port),
           "--host", "127.0.0.1"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"seqattn serve exited with status {proc.returncode}; "
                                 f"its output:\n{log_path.read_text(errors='replace')}")
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"seqattn serve did not answer on {url} within {timeout:.0f} s")
            time.sleep(0.3)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        with contextlib.suppress(ProcessLookupError):  # anything it started, in its group
            os.killpg(proc.pid, signal.SIGKILL)


def post(url: str, path: str, body: dict) -> dict:
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.load(r)


def first_difference(tokens: list[str], want: list[str]) -> int:
    """The first position where `tokens` leave `want`; the last position when they never do."""
    for t, tok in enumerate(tokens):
        if t >= len(want) or tok != want[t]:
            return t
    return len(tokens) - 1


def translate(page, sentence: str, model: str, beam: str = "5") -> None:
    page.select_option("#model", model)
    page.select_option("#beam", beam)
    page.fill("#input", sentence)
    page.click("#translate")
    page.wait_for_selector("#output .result .attn-cell")


def open_tool(page, name: str):
    card = page.locator("#output .result").first
    card.get_by_role("button", name=name, exact=True).click()
    return card.locator(f"section.studio-panel[aria-label='{name}']")


def settle(page) -> None:
    """Fonts loaded, no animation frame pending: what the screenshot shows is what a reader sees."""
    page.evaluate("() => document.fonts.ready")
    page.wait_for_timeout(300)


def shrink_png(path: Path, colors: int) -> None:
    """Fewer bytes for the repository: the screenshot reduced to a palette of `colors` (no
    dithering, so text edges stay clean). 0 keeps it as Chromium wrote it."""
    if not colors:
        return
    from PIL import Image

    with Image.open(path) as im:
        small = im.convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT,
                                           dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def shoot(locator, path: Path, args) -> None:
    locator.scroll_into_view_if_needed()
    settle(locator.page)
    box = locator.bounding_box()
    locator.screenshot(path=str(path), animations="disabled")
    shrink_png(path, args.colors)
    print(f"  {path}: {box['width']:.0f} x {box['height']:.0f} CSS px, {path.stat().st_size // 1024} KB")


def studio_pictures(args, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    runs = [args.koen] + ([args.koen_second] if args.koen_second else [])
    model = args.koen.name
    with tempfile.TemporaryDirectory() as tmp, serving(runs, Path(tmp) / "serve.log") as url, \
            sync_playwright() as pw:
        want = post(url, "/v1/score", {"source": args.sentence, "target": args.expected,
                                       "model": model})["tgt_tokens"]
        ex = post(url, "/v1/explain", {"text": args.sentence, "model": model})
        greedy = [s["chosen"] for s in ex["steps"]]
        step = first_difference(greedy, want)
        print(f"  {args.expected!r} is {want}; greedy decoding gives {greedy}, "
              f"leaving it at decoding step {step + 1}")
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": args.width, "height": 1000},
                                          device_scale_factor=args.scale)
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.goto(url + "/")
            page.wait_for_selector("#model option", state="attached")

            # Step through: at the step that first leaves the expected output, its weights (4 of 7)
            translate(page, args.sentence, model)
            panel = open_tool(page, "Step through")
            stepper = panel.locator(".stepper")
            stepper.wait_for()
            stepper.focus()
            page.keyboard.press("Home")
            for _ in range(7 * (len(greedy) + 1)):
                where = (stepper.get_attribute("data-step"), stepper.get_attribute("data-phase"))
                if where == (str(step), "4"):
                    break
                page.keyboard.press("ArrowRight")
            else:
                raise SystemExit(f"the stepper never reached decoding step {step + 1}, phase 4")
            shoot(panel, out / "studio-stepper.png", args)

            # Why not…?: the expected output scored token by token beside the model's own
            panel = open_tool(page, "Why not…?")
            panel.locator(".force-input").fill(args.expected)
            panel.locator(".force-input").press("Enter")
            panel.locator(".whynot-table").wait_for()
            panel.locator(".studio-map .attn-cell").first.wait_for()
            shoot(panel, out / "studio-why-not.png", args)

            # Beam tree (beam 5): the winner's node at the position that went wrong, clicked
            page.reload()
            page.wait_for_selector("#model option", state="attached")
            translate(page, args.sentence, model)
            panel = open_tool(page, "Beam tree")
            panel.locator(".beam-tree .tree-node[data-id]").first.wait_for()
            tree = post(url, "/v1/translate", {"texts": [args.sentence], "model": model, "beam": 5,
                                               "tree": True})["results"][0]["tree"]
            nodes = {str(n["id"]): n for n in tree}
            ids = panel.locator(".tree-node.best[data-id]").evaluate_all("ns => ns.map((n) => n.dataset.id)")
            path = sorted((nodes[i] for i in ids if i in nodes), key=lambda n: n["step"])  # the winner's
            at = first_difference([n["token"] for n in path], want)
            print(f"  beam 5 gives {[n['token'] for n in path]}, leaving it at position {at + 1}")
            panel.locator(f".tree-node[data-id='{path[at]['id']}']").click(force=True)
            panel.locator(".tree-scroll").evaluate("e => { e.scrollTop = 0; e.scrollLeft = 0; }")
            shoot(panel, out / "studio-beam-tree.png", args)

            if args.koen_second:
                page.reload()
                page.wait_for_selector("#model option", state="attached")
                page.fill("#input", args.sentence)
                page.select_option("#beam", "5")
                page.select_option("#compare-a", model)
                page.select_option("#compare-b", args.koen_second.name)
                page.click("#compare-go")
                page.wait_for_selector("#compare-out .compare-side:nth-child(2) .attn-cell")
                shoot(page.locator("#compare"), out / "studio-side-by-side.png", args)
            context.close()
        finally:
            browser.close()


def g2p_picture(args, out: Path) -> None:
    import seqattn
    from seqattn.viz import save_heatmap

    translator = seqattn.load(str(args.g2p), device="cpu")
    best = translator.translate([args.word], beam=5)[0]
    print(f"  {args.word} -> {best.text}")
    for path in save_heatmap(out / "g2p-attention", best.attention, best.src_tokens, best.tgt_tokens,
                             title=args.word, formats=("png",)):
        print(f"  {path}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--koen", type=Path, help="the Korean->English run (seqattn train --out runs/koen)")
    p.add_argument("--koen-second", type=Path,
                   help="a second Korean->English run for side by side (e.g. additive attention)")
    p.add_argument("--g2p", type=Path, help="the G2P run (configs/cmudict_g2p.yaml)")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "images", help="default: docs/images")
    p.add_argument("--sentence", default="저는 AI를 좋아합니다")
    p.add_argument("--expected", default="I like AI.", help="the output typed into Why not…?")
    p.add_argument("--word", default="attention", help="the G2P word drawn")
    p.add_argument("--width", type=int, default=880,
                   help="viewport width in CSS pixels (default 880: the pictures come out at most about "
                        "820 CSS px wide, the width GitHub shows a README image at)")
    p.add_argument("--scale", type=float, default=2.0, help="device pixel ratio (default 2)")
    p.add_argument("--colors", type=int, default=256,
                   help="reduce each screenshot to a palette of this many colours (default 256; 0: keep)")
    args = p.parse_args(argv)
    if not (args.koen or args.g2p):
        p.error("give --koen RUN and/or --g2p RUN")
    if args.koen_second and not args.koen:
        p.error("--koen-second needs --koen")
    for run in (args.koen, args.koen_second, args.g2p):
        if run and not (run / "config.yaml").is_file():
            p.error(f"{run} is not a trained run directory (no config.yaml)")
    if args.koen and args.koen_second and args.koen.name == args.koen_second.name:
        p.error("--koen and --koen-second are served under their directory names, which must differ")
    args.out.mkdir(parents=True, exist_ok=True)
    for sig in (signal.SIGTERM, signal.SIGHUP):  # unwind (and stop the server) on these too
        signal.signal(sig, lambda signum, frame: sys.exit(128 + signum))
    if args.koen:
        print(f"studio on {args.koen}" + (f" and {args.koen_second}" if args.koen_second else ""))
        studio_pictures(args, args.out)
    if args.g2p:
        print(f"G2P attention of {args.g2p}")
        g2p_picture(args, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

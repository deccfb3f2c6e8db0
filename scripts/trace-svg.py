#!/usr/bin/env python3
"""Draws a timeline written by XASYNC_TRACE (Chrome trace-event JSON) as an
SVG picture, for machines without a browser or Perfetto: one lane per
worker, a box per task run (coloured by task, labelled when wide enough),
grey boxes where the worker parked, ticks where it was woken, and a red
marker with its label for each stall the watchdog reported.

    python3 scripts/trace-svg.py timeline.json timeline.svg [--from MS] [--to MS]

Only the standard library is used. Perfetto (ui.perfetto.dev) or
chrome://tracing show the same file interactively.
"""

import argparse
import hashlib
import json
import sys
from html import escape

LANE = 56  # height of one worker's lane, px
LEFT = 90  # room for the lane names, px
WIDTH = 1400  # the picture's width, px
TOP = 34  # room for the time axis, px


def colour(name):
    """A stable, readable colour per task name."""
    hue = int(hashlib.md5(name.encode()).hexdigest()[:4], 16) % 360
    return f"hsl({hue},55%,62%)"


def nice_step(span_ms):
    """A round tick spacing giving about ten ticks over span_ms."""
    step = 10 ** len(str(int(max(span_ms, 1) / 10))) / 10
    for factor in (1, 2, 5, 10):
        if span_ms / (step * factor) <= 12:
            return step * factor
    return step * 10


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trace")
    parser.add_argument("svg")
    parser.add_argument("--from", dest="start", type=float, help="first ms to draw")
    parser.add_argument("--to", dest="end", type=float, help="last ms to draw")
    args = parser.parse_args()

    with open(args.trace) as f:
        events = json.load(f)["traceEvents"]
    lanes = {}
    for e in events:
        if e.get("ph") == "M" and e.get("name") == "thread_name":
            lanes[e["tid"]] = e["args"]["name"]
    for e in events:
        lanes.setdefault(e.get("tid", 0), f"thread {e.get('tid', 0)}")
    timed = [e for e in events if "ts" in e]
    if not timed:
        sys.exit(f"{args.trace}: no timed events")
    first = min(e["ts"] for e in timed) / 1000
    last = max(e["ts"] + e.get("dur", 0) for e in timed) / 1000
    start = args.start if args.start is not None else first
    end = args.end if args.end is not None else last
    if end <= start:
        sys.exit("--to must be after --from")
    scale = (WIDTH - LEFT - 10) / (end - start)

    def x(ms):
        return LEFT + (ms - start) * scale

    order = {tid: i for i, tid in enumerate(sorted(lanes))}
    height = TOP + LANE * len(lanes) + 10
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'font-family="sans-serif" font-size="11">',
        f'<rect width="{WIDTH}" height="{height}" fill="#fafafa"/>',
    ]
    step = nice_step(end - start)
    tick = (start // step) * step
    while tick <= end:
        if tick >= start:
            out.append(
                f'<line x1="{x(tick):.1f}" y1="{TOP - 8}" x2="{x(tick):.1f}" y2="{height - 10}" '
                f'stroke="#ddd"/><text x="{x(tick) + 2:.1f}" y="{TOP - 12}" fill="#555">'
                f"{tick:g} ms</text>"
            )
        tick += step
    for tid, i in order.items():
        y = TOP + i * LANE
        out.append(
            f'<text x="6" y="{y + LANE / 2 + 8:.0f}" fill="#222">{escape(lanes[tid])}</text>'
            f'<line x1="{LEFT}" y1="{y + LANE - 2}" x2="{WIDTH - 10}" y2="{y + LANE - 2}" stroke="#ccc"/>'
        )
    stalls = []
    for e in timed:
        ms = e["ts"] / 1000
        y = TOP + order[e.get("tid", 0)] * LANE
        if e["ph"] == "X":
            a, b = max(ms, start), min(ms + e.get("dur", 0) / 1000, end)
            if b < a:
                continue
            w = max((b - a) * scale, 0.8)
            parked = e["name"] == "parked"
            fill = "#e4e4e4" if parked else colour(e["name"])
            top, h = (y + 22, LANE - 34) if parked else (y + 14, LANE - 20)
            out.append(
                f'<rect x="{x(a):.1f}" y="{top}" width="{w:.1f}" height="{h}" fill="{fill}">'
                f"<title>{escape(e['name'])}: {e.get('dur', 0) / 1000:.3f} ms</title></rect>"
            )
            label = e["name"] if not parked else "parked"
            if w > 7 * len(label):
                out.append(
                    f'<text x="{x(a) + 3:.1f}" y="{y + LANE / 2 + 8:.0f}" fill="#111">'
                    f"{escape(label)}</text>"
                )
        elif e["ph"] == "i" and start <= ms <= end:
            if e["name"].startswith("stall"):
                stalls.append((x(ms), y, e))
            else:
                out.append(
                    f'<line x1="{x(ms):.1f}" y1="{y + 6}" x2="{x(ms):.1f}" y2="{y + 12}" stroke="#2a7"/>'
                )
    for sx, y, e in stalls:
        out.append(
            f'<polygon points="{sx:.1f},{y + 12} {sx - 5:.1f},{y + 3} {sx + 5:.1f},{y + 3}" fill="#d22"/>'
            f'<text x="{sx + 7:.1f}" y="{y + 11}" fill="#d22" font-weight="bold">'
            f"{escape(e['name'])}</text>"
        )
    out.append("</svg>")
    with open(args.svg, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()

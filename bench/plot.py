#!/usr/bin/env python3
"""plot.py RESULT.json OUT.svg: the fan-out timelines (objects present vs time), the label → object latency
distribution (CDF), the OSD run's RSS and the churn run's RSS, as one SVG. Standard library only.

The timelines and samples are in the raw-samples file the result names (`raw_samples`, e.g. raw/<name>.json next to
it, kept out of git); without it the panels that need them are left out."""

import json
import os
import sys

from bench import merge_raw
from xml.sax.saxutils import escape

W, H = 640, 300  # one panel
M = dict(l=70, r=20, t=36, b=44)
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]


def nice_max(v):
    if v <= 0:
        return 1
    import math
    e = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * e:
            return m * e
    return 10 * e


def panel(y0, title, xlabel, ylabel, series, xmax=None, ymax=None, steps=True, marks=()):
    """series: [(label, [(x, y)...])]; returns SVG elements placed at vertical offset y0."""
    pts = [p for _, s in series for p in s]
    if not pts:
        return []
    xmax = xmax or nice_max(max(p[0] for p in pts))
    ymax = ymax or nice_max(max(p[1] for p in pts))
    pw, ph = W - M["l"] - M["r"], H - M["t"] - M["b"]

    def X(x):
        return M["l"] + pw * x / xmax

    def Y(y):
        return y0 + M["t"] + ph * (1 - y / ymax)

    out = [f'<text x="{W / 2}" y="{y0 + 22}" text-anchor="middle" font-weight="bold">{escape(title)}</text>',
           f'<rect x="{M["l"]}" y="{y0 + M["t"]}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>']
    for i in range(6):
        xv, yv = xmax * i / 5, ymax * i / 5
        out.append(f'<line x1="{X(xv)}" y1="{Y(0)}" x2="{X(xv)}" y2="{Y(0) + 4}" stroke="#888"/>')
        out.append(f'<text x="{X(xv)}" y="{Y(0) + 16}" text-anchor="middle" font-size="11">{xv:g}</text>')
        out.append(f'<line x1="{M["l"]}" y1="{Y(yv)}" x2="{M["l"] + pw}" y2="{Y(yv)}" stroke="#eee"/>')
        out.append(f'<text x="{M["l"] - 6}" y="{Y(yv) + 4}" text-anchor="end" font-size="11">{yv:g}</text>')
    out.append(f'<text x="{M["l"] + pw / 2}" y="{y0 + H - 8}" text-anchor="middle" font-size="12">{escape(xlabel)}</text>')
    out.append(f'<text x="16" y="{y0 + M["t"] + ph / 2}" text-anchor="middle" font-size="12" '
               f'transform="rotate(-90 16 {y0 + M["t"] + ph / 2})">{escape(ylabel)}</text>')
    for x, label in marks:
        out.append(f'<line x1="{X(x)}" y1="{Y(0)}" x2="{X(x)}" y2="{Y(ymax)}" stroke="#999" stroke-dasharray="4 3"/>')
        out.append(f'<text x="{X(x) + 3}" y="{Y(ymax) + 12}" font-size="10" fill="#555">{escape(label)}</text>')
    for i, (label, s) in enumerate(series):
        c = COLORS[i % len(COLORS)]
        if len(s) > 1500:  # keep the SVG small: thin evenly, keep the last point
            k = len(s) // 1500 + 1
            s = s[::k] + [s[-1]]
        d = []
        for j, (x, y) in enumerate(s):
            if steps and j:
                d.append(f"L{X(x):.1f},{Y(s[j - 1][1]):.1f}")
            d.append(f"{'M' if not j else 'L'}{X(x):.1f},{Y(y):.1f}")
        out.append(f'<path d="{" ".join(d)}" fill="none" stroke="{c}" stroke-width="1.6"/>')
        out.append(f'<rect x="{M["l"] + 10}" y="{y0 + M["t"] + 8 + 16 * i}" width="12" height="3" fill="{c}"/>')
        out.append(f'<text x="{M["l"] + 26}" y="{y0 + M["t"] + 13 + 16 * i}" font-size="11">{escape(label)}</text>')
    return out


def cumulative(times):
    return [(t, i + 1) for i, t in enumerate(sorted(times))]


def main():
    r = json.load(open(sys.argv[1]))
    raw = r.get("raw_samples") and os.path.join(os.path.dirname(sys.argv[1]) or ".", r["raw_samples"])
    if raw and os.path.exists(raw):
        r = merge_raw(r, json.load(open(raw)))
    elif raw:
        sys.stderr.write(f"plot.py: {raw} is missing: no timelines, latency samples or RSS series to plot\n")
    sc = r["scenarios"]
    n = r["parameters"]["n"]
    panels = []
    series = []
    for key, name in (("s1", "new"), ("s2", "edit")):
        if key in sc and "timeline_hivesync_s" in sc[key]:
            series.append((f"hivesync {name} ({sc[key]['hivesync_objects_s']:.1f} s)",
                           cumulative(sc[key]["timeline_hivesync_s"])))
            series.append((f"floor {name} ({sc[key]['floor_objects_s']:.1f} s)", cumulative(sc[key]["timeline_floor_s"])))
    if "s6" in sc:
        s6 = (sc["s6"].get("rounds") or [sc["s6"]])[0]
        if s6.get("timeline_control_s"):
            series.append(("hivesync new, control of scenario 6", cumulative(s6["timeline_control_s"])))
        if s6.get("timeline_healthy_s"):
            series.append(("hivesync new, one spoke stopped (healthy spokes)", cumulative(s6["timeline_healthy_s"])))
    if series:
        panels.append(lambda y0, s=series: panel(
            y0, f"Fan-out to {n} clusters: ConfigMaps present on the spokes", "seconds since the change",
            "objects present", s))
    if "s3" in sc and "samples_add_s" in sc["s3"]:
        lat = sorted(v * 1000 for v in sc["s3"]["samples_add_s"])
        cdf = [(v, 100 * (i + 1) / len(lat)) for i, v in enumerate(lat)]
        a = sc["s3"]["add_s"]
        panels.append(lambda y0: panel(
            y0, f"Label a ClusterDeployment → object on its spoke ({len(lat)} samples)", "milliseconds",
            "% of samples ≤", [("CDF", cdf)], ymax=100,
            marks=[(a["p50"] * 1000, f"p50 {a['p50'] * 1000:.0f} ms"), (a["p99"] * 1000, f"p99 {a['p99'] * 1000:.0f} ms")]))
    if "s4" in sc and sc["s4"].get("rss_timeline"):
        tl = sc["s4"]["rss_timeline"]
        panels.append(lambda y0: panel(
            y0, f"OSD payload on {sc['s4']['clusters']} fake clusters: controller RSS and clusters done",
            "seconds since kubectl apply", "RSS (MB) / clusters done ÷ 10",
            [("RSS MB", [(t, b / 1e6) for t, b, _ in tl]), ("clusters done ÷ 10", [(t, c / 10) for t, _, c in tl])],
            steps=False))
    if "s7" in sc and sc["s7"].get("rss_timeline"):
        s7 = sc["s7"]
        tl = s7["rss_timeline"]
        g = s7.get("rss_growth_percent")
        marks = [(m[1], f"cycle {m[0]}") for m in s7.get("cycle_marks_s") or []]
        panels.append(lambda y0: panel(
            y0, f"Churn, {s7['cycles']} × {s7['clusters_per_cycle']} fake clusters: controller RSS"
                + (f" (last/first cycle {g:+.1f} %)" if g is not None else ""),
            "seconds since the controller was ready", "RSS (MB)",
            [("RSS MB", [(t, b / 1e6) for t, b in tl])], steps=False, marks=marks))
    body = []
    for i, p in enumerate(panels):
        body += p(i * H)
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H * max(1, len(panels))}" '
           f'font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>' + "".join(body) + "</svg>\n")
    open(sys.argv[2], "w").write(svg)


if __name__ == "__main__":
    main()

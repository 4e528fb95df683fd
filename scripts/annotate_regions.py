#!/usr/bin/env python3
"""Hand-drawn region outlines (sclera, teeth) for the mask-precision tests.

Drawing is done by eye: `grid` writes a zoomed crop with a labelled pixel
grid; read the outline's points off it (image coordinates, pixel centres at
+0.5) and type them into the JSON; `overlay` draws the JSON's polygons on
zoomed crops to check them (and to compare with the masks eyes_draw tints).

  annotate_regions.py grid IMAGE X Y W H ZOOM OUT.png [--step N]
  annotate_regions.py overlay ANNOTATIONS.json OUT_PREFIX [--zoom Z]

ANNOTATIONS.json: {"image": "city_smile.jpg" (tests/data), "note": "...",
  "regions": [{"kind": "sclera"|"teeth", "face": 0, "eye": 0|1 (sclera),
               "points": [[x, y], ...]}]}
Needs only the vips command line tool (crop, resize, SVG overlay).
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "tests", "data")


def vips(*args):
    subprocess.run(["vips"] + [str(a) for a in args], check=True)


def crop_zoom(image, x, y, w, h, zoom, out):
    with tempfile.TemporaryDirectory() as tmp:
        c = os.path.join(tmp, "c.v")
        vips("extract_area", image, c, x, y, w, h)
        vips("resize", c, out, zoom, "--kernel", "nearest")


def svg_overlay(base, svg_body, w, h, out):
    """Composites an SVG drawing (w x h) over base."""
    with tempfile.TemporaryDirectory() as tmp:
        svg = os.path.join(tmp, "o.svg")
        with open(svg, "w") as f:
            f.write(f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}">'
                    f"{svg_body}</svg>")
        ov = os.path.join(tmp, "o.png")
        vips("svgload", svg, ov)
        b3 = os.path.join(tmp, "b.v")
        vips("bandjoin_const", base, b3, 255)
        vips("composite2", b3, ov, out, "over")


def grid(args):
    image, x, y, w, h, zoom, out = args[:7]
    step = int(args[args.index("--step") + 1]) if "--step" in args else 5
    x, y, w, h, zoom = int(x), int(y), int(w), int(h), int(zoom)
    with tempfile.TemporaryDirectory() as tmp:
        z = os.path.join(tmp, "z.png")
        crop_zoom(image, x, y, w, h, zoom, z)
        body = []
        for gx in range((x // step + 1) * step, x + w, step):
            px = (gx - x) * zoom
            body.append(f'<line x1="{px}" y1="0" x2="{px}" y2="{h * zoom}" stroke="cyan" '
                        f'stroke-opacity="0.45" stroke-width="1"/>')
            body.append(f'<text x="{px + 2}" y="10" font-size="10" fill="yellow">{gx}</text>')
        for gy in range((y // step + 1) * step, y + h, step):
            py = (gy - y) * zoom
            body.append(f'<line x1="0" y1="{py}" x2="{w * zoom}" y2="{py}" stroke="cyan" '
                        f'stroke-opacity="0.45" stroke-width="1"/>')
            body.append(f'<text x="2" y="{py - 2}" font-size="10" fill="yellow">{gy}</text>')
        svg_overlay(z, "".join(body), w * zoom, h * zoom, out)


def overlay(args):
    ann_path, prefix = args[0], args[1]
    zoom = int(args[args.index("--zoom") + 1]) if "--zoom" in args else 4
    ann = json.load(open(ann_path))
    image = os.path.join(DATA, ann["image"])
    for k, r in enumerate(ann["regions"]):
        xs = [p[0] for p in r["points"]]
        ys = [p[1] for p in r["points"]]
        pad = 12
        x0, y0 = int(min(xs)) - pad, int(min(ys)) - pad
        w, h = int(max(xs)) - x0 + pad, int(max(ys)) - y0 + pad
        out = f"{prefix}_{k}_{r['kind']}.png"
        with tempfile.TemporaryDirectory() as tmp:
            z = os.path.join(tmp, "z.png")
            crop_zoom(image, x0, y0, w, h, zoom, z)
            pts = " ".join(f"{(px - x0) * zoom:.1f},{(py - y0) * zoom:.1f}"
                           for px, py in r["points"])
            body = (f'<polygon points="{pts}" fill="none" stroke="lime" stroke-width="1.5"/>' +
                    "".join(f'<circle cx="{(px - x0) * zoom}" cy="{(py - y0) * zoom}" r="2" '
                            f'fill="red"/>' for px, py in r["points"]))
            svg_overlay(z, body, w * zoom, h * zoom, out)
        print(out)


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("grid", "overlay"):
        print(__doc__)
        return 2
    (grid if sys.argv[1] == "grid" else overlay)(sys.argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main())

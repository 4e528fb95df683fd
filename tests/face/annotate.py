#!/usr/bin/env python3
"""Hand annotation of visible face parts, for the visibility tests.

Annotations are polygons typed after looking at the photo (zoomed, with a
coordinate grid drawn by this tool), stored as JSON in
tests/data/annotations/NAME.json:

  {"image": "vis_x.jpg",
   "shapes": [{"label": "skin", "points": [[x, y], ...]},
              {"label": "frame", "width": 5, "closed": true, "points": [...]},
              ...]}

Shapes are painted in order, later ones over earlier ones: first the face's
skin (hairline to jaw, silhouette to silhouette, ears and neck left out),
then what is not skin inside it.  A shape with "width" is a polyline of that
width in pixels (glasses rims, thin strands), closed when "closed" is true;
"ellipse": [cx, cy, rx, ry] with "width" gives an elliptic rim.
Labels and the values they get in the label image:

  0 other (background, hair outside the face, neck, ears, clothes)
  1 skin    visible face skin
  2 lips    3 teeth (visible mouth opening)   4 frame (glasses frames)
  5 beard (beard, moustache, stubble dense enough to hide skin)
  6 hand    7 object (microphone, cup, phone)  8 hair (over the face)
  9 feature (eyes, brows, nostrils: not skin, not tested)

Commands (images are read and written through the `vips` command line; no
Python packages needed):

  annotate.py grid IMAGE OUT.png [X0 Y0 X1 Y1 [ZOOM]]
      the rectangle enlarged ZOOM times with a grid every 10 pixels
      (labelled every 50) to read coordinates off
  annotate.py overlay ANNOTATION.json OUT.png [X0 Y0 X1 Y1 [ZOOM]]
      the photo with the labels tinted, to check an annotation
  annotate.py labels ANNOTATION.json OUT.png
      the label image (one byte per pixel, values above) the tests read
"""
import json
import math
import os
import subprocess
import sys
import tempfile

LABELS = {"other": 0, "skin": 1, "lips": 2, "teeth": 3, "frame": 4, "beard": 5,
          "hand": 6, "object": 7, "hair": 8, "feature": 9}
TINT = {1: (40, 220, 60), 2: (230, 30, 30), 3: (250, 250, 40), 4: (40, 80, 255),
        5: (160, 60, 220), 6: (255, 140, 0), 7: (0, 230, 230), 8: (255, 40, 200),
        9: (120, 120, 120)}

DIGITS = ["111101101101111", "010110010010111", "111001111100111", "111001111001111",
          "101101111001001", "111100111001111", "111100111101111", "111001001001001",
          "111101111101111", "111101111001111"]


def read_image(path):
    """(width, height, bytearray RGB) through vips."""
    with tempfile.TemporaryDirectory() as d:
        ppm = os.path.join(d, "x.ppm")
        subprocess.run(["vips", "colourspace", path, ppm, "srgb"], check=True)
        data = open(ppm, "rb").read()
    fields, pos = [], 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos)
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    pos += 1
    w, h = int(fields[1]), int(fields[2])
    if fields[0] != b"P6":
        sys.exit("%s: expected an RGB image" % path)
    return w, h, bytearray(data[pos:pos + 3 * w * h])


def write_image(path, w, h, rgb, bands=3):
    with tempfile.TemporaryDirectory() as d:
        tmp = os.path.join(d, "x.pgm" if bands == 1 else "x.ppm")
        with open(tmp, "wb") as f:
            f.write(b"%s\n%d %d\n255\n" % (b"P5" if bands == 1 else b"P6", w, h))
            f.write(bytes(rgb))
        subprocess.run(["vips", "copy", tmp, path], check=True)


def fill_polygon(pts, w, h, paint):
    """Calls paint(x, y) for every pixel whose centre is inside (non-zero rule)."""
    n = len(pts)
    ys = [p[1] for p in pts]
    for y in range(max(0, int(min(ys))), min(h, int(max(ys)) + 2)):
        py = y + 0.5
        xs = []
        for i in range(n):
            (ax, ay), (bx, by) = pts[i], pts[(i + 1) % n]
            if (ay <= py) != (by <= py):
                xs.append((ax + (py - ay) * (bx - ax) / (by - ay), 1 if by > ay else -1))
        xs.sort()
        wind = 0
        for k in range(len(xs) - 1):
            wind += xs[k][1]
            if wind:
                for x in range(max(0, int(xs[k][0] + 0.5)), min(w, int(xs[k + 1][0] + 0.5))):
                    paint(x, y)


def stroke(pts, width, closed, w, h, paint):
    """A polyline of the given width: every pixel centre within width/2 of it."""
    r = width / 2.0
    segs = list(zip(pts, pts[1:] + (pts[:1] if closed else [])))
    for (ax, ay), (bx, by) in segs:
        dx, dy = bx - ax, by - ay
        l2 = dx * dx + dy * dy or 1e-9
        for y in range(max(0, int(min(ay, by) - r)), min(h, int(max(ay, by) + r) + 2)):
            for x in range(max(0, int(min(ax, bx) - r)), min(w, int(max(ax, bx) + r) + 2)):
                px, py = x + 0.5, y + 0.5
                t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / l2))
                ex, ey = ax + t * dx - px, ay + t * dy - py
                if ex * ex + ey * ey <= r * r:
                    paint(x, y)


def rasterise(ann, w, h):
    lab = bytearray(w * h)
    for s in ann["shapes"]:
        v = LABELS[s["label"]]
        if "ellipse" in s:
            cx, cy, rx, ry = s["ellipse"]
            pts = [(cx + rx * math.cos(2 * math.pi * k / 64), cy + ry * math.sin(2 * math.pi * k / 64))
                   for k in range(64)]
            s = dict(s, closed=True)
        else:
            pts = [tuple(p) for p in s["points"]]

        def paint(x, y, v=v):
            lab[y * w + x] = v

        if "width" in s:
            stroke(pts, s["width"], s.get("closed", False), w, h, paint)
        else:
            fill_polygon(pts, w, h, paint)
    return lab


def crop_zoom(w, h, rgb, args):
    x0, y0, x1, y1 = (int(a) for a in args[:4]) if len(args) >= 4 else (0, 0, w, h)
    z = int(args[4]) if len(args) >= 5 else 1
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    ow, oh = (x1 - x0) * z, (y1 - y0) * z
    out = bytearray(ow * oh * 3)
    for y in range(oh):
        sy = y0 + y // z
        for x in range(ow):
            s = 3 * (sy * w + x0 + x // z)
            out[3 * (y * ow + x):3 * (y * ow + x) + 3] = rgb[s:s + 3]
    return x0, y0, z, ow, oh, out


def draw_grid(x0, y0, z, ow, oh, out):
    def put(x, y, c):
        if 0 <= x < ow and 0 <= y < oh:
            out[3 * (y * ow + x):3 * (y * ow + x) + 3] = bytes(c)

    for y in range(oh):
        for x in range(ow):
            ix, iy = x0 + x / z, y0 + y / z
            if x % z == 0 and int(ix) % 10 == 0 or y % z == 0 and int(iy) % 10 == 0:
                major = (x % z == 0 and int(ix) % 50 == 0) or (y % z == 0 and int(iy) % 50 == 0)
                if major or (x + y) % 3 == 0:
                    put(x, y, (255, 255, 0) if major else (0, 255, 255))
    s = 2
    for gy in range(((y0 + 49) // 50) * 50, y0 + oh // z, 50):
        for gx in range(((x0 + 49) // 50) * 50, x0 + ow // z, 50):
            text = "%d,%d" % (gx, gy)
            px, py = (gx - x0) * z + 2, (gy - y0) * z + 2
            for k, ch in enumerate(text):
                for r in range(5):
                    for c in range(3):
                        on = ch != "," and DIGITS[int(ch)][r * 3 + c] == "1"
                        if ch == "," and r == 4 and c == 0:
                            on = True
                        for j in range(s):
                            for i in range(s):
                                put(px + (k * 4 + c) * s + i, py + r * s + j,
                                    (255, 0, 0) if on else (255, 255, 255))


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    cmd = sys.argv[1]
    if cmd == "grid":
        w, h, rgb = read_image(sys.argv[2])
        x0, y0, z, ow, oh, out = crop_zoom(w, h, rgb, sys.argv[4:])
        draw_grid(x0, y0, z, ow, oh, out)
        write_image(sys.argv[3], ow, oh, out)
        return
    ann = json.load(open(sys.argv[2]))
    img = os.path.join(os.path.dirname(os.path.abspath(sys.argv[2])), "..", ann["image"])
    w, h, rgb = read_image(img)
    lab = rasterise(ann, w, h)
    if cmd == "labels":
        write_image(sys.argv[3], w, h, lab, bands=1)
    elif cmd == "overlay":
        for i, v in enumerate(lab):
            if v:
                c = TINT[v]
                for k in range(3):
                    rgb[3 * i + k] = (rgb[3 * i + k] + c[k]) // 2
        x0, y0, z, ow, oh, out = crop_zoom(w, h, rgb, sys.argv[4:])
        draw_grid(x0, y0, z, ow, oh, out)
        write_image(sys.argv[3], ow, oh, out)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

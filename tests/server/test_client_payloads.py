"""The skin payloads real clients of the original API send, through retouchd:
the "Natural" default (Heal 0.8, Skin Tone 1/1, Eye Vessels 1) flattened and
as layers, and Heal + Dodge Burn + Portrait Volumes as layers.  Each comes
back as an image that differs from the input on the face, and the ZIP's
layers, composited in index order with their blend modes (W3C formulas,
written here independently of the engine) over the input, reproduce the
flattened result."""
import io
import json
import zipfile

import numpy as np
from PIL import Image

from harness import PNG, ServerTest, curl, main

NATURAL = [{"Plugin": "Heal", "Alpha1": 0.8},
           {"Plugin": "Skin Tone", "Alpha1": 1, "Alpha2": 1},
           {"Plugin": "Eye Vessels", "Alpha1": 1}]
VOLUMES = [{"Plugin": "Heal", "Alpha1": 1},
           {"Plugin": "Dodge Burn", "Alpha1": 1, "Alpha2": 0.5},
           {"Plugin": "Portrait Volumes", "Alpha1": 1}]


def payload(tasks, layer):
    return json.dumps({"mode": "professional",
                       "tasks": [dict(t, Layer=1 if layer else 0) for t in tasks]})


def soft_light(cb, cs):
    d = np.where(cb <= 0.25, ((16 * cb - 12) * cb + 4) * cb, np.sqrt(cb))
    return np.where(cs <= 0.5, cb - (1 - 2 * cs) * cb * (1 - cb), cb + (2 * cs - 1) * (d - cb))


BLEND = {
    "normal": lambda cb, cs: cs,
    "softLight": soft_light,
    "darken": np.minimum,
    "linearLight": lambda cb, cs: np.clip(cb + 2 * cs - 1, 0, 1),
}


def read(path):
    with open(path, "rb") as f:
        return f.read()


def as_float(data):
    im = Image.open(io.BytesIO(data))
    arr = np.asarray(im, dtype=np.float64)
    scale = 65535.0 if arr.max() > 255 else 255.0
    return arr / scale


class ClientPayloads(ServerTest):
    def run_job(self, tasks, layer):
        r = self.server.start_job(self.token, payload(tasks, layer), PNG)
        self.assertEqual(r.status, 200, r)
        job_id = r.json()["id"]
        st = self.server.wait_job(job_id)
        self.assertEqual(st["state"], "completed", st)
        got = curl(self.server.url("/api/v1/retoucher/getFile/" + job_id))
        self.assertEqual(got.status, 200)
        return got.body

    def check_changed_face(self, result):
        src = as_float(read(PNG))[..., :3]
        out = as_float(result)[..., :3]
        self.assertEqual(src.shape, out.shape)
        changed = np.abs(out - src).max(axis=2) > 1.5 / 255
        self.assertGreater(changed.mean(), 0.001, "the retouching changed nothing")
        self.assertLess(changed.mean(), 0.5, "the retouching changed most of the frame")

    def check_layers(self, tasks):
        flat = self.run_job(tasks, False)
        self.check_changed_face(flat)
        body = self.run_job(tasks, True)
        self.assertEqual(body[:2], b"PK")
        z = zipfile.ZipFile(io.BytesIO(body))
        meta = json.loads(z.read("result.json"))
        layers = sorted(meta["layers"], key=lambda l: l["index"])
        self.assertEqual([l["name"] for l in layers], [t["Plugin"] for t in tasks])
        base = as_float(read(PNG))[..., :3]
        img = base.copy()
        for l in layers:
            self.assertIn("index=%d&blendmode=%s&name=%s.png" % (l["index"], l["blendmode"],
                                                                 l["name"]), z.namelist())
            lay = as_float(z.read(l["file"]))
            self.assertEqual(lay.shape[:2], img.shape[:2])
            cs, alpha = lay[..., :3], lay[..., 3:4]
            img = (1 - alpha) * img + alpha * BLEND[l["blendmode"]](img, cs)
        flattened = [n for n in z.namelist() if n.startswith("flattened.")]
        self.assertEqual(len(flattened), 1)
        ref = as_float(z.read(flattened[0]))[..., :3]
        off = np.abs(img - ref).max(axis=2) * 255 > 1.0 + 1e-6
        self.assertLess(off.mean(), 0.001, "%.4f %% of pixels off by more than one step"
                        % (100 * off.mean()))
        # the ZIP's flattened image is the flattened job's image
        self.assertLess(np.abs(ref - as_float(flat)[..., :3]).max() * 255, 1.0 + 1e-6)

    def test_natural_flattened_and_layered(self):
        self.check_layers(NATURAL)

    def test_heal_dodge_burn_volumes_layered(self):
        self.check_layers(VOLUMES)


if __name__ == "__main__":
    main()

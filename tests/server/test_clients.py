"""The request shapes real clients send, and real client libraries:
curl in every field order, `//start`, `{}` payloads, a client polling every
second, one that only looks at HTTP statuses, one that sniffs `PK`, Python
requests and Node's fetch."""
import itertools
import json
import os
import shutil
import subprocess
import time

from harness import (CC, CC_LAYER, JPEG, PNG, ServerTest, curl, image_size, main)

HERE = os.path.dirname(os.path.abspath(__file__))


class Shapes(ServerTest):
    def test_fields_in_every_order(self):
        fields = {"token": ["-F", "token=" + self.token],
                  "payload": ["-F", "payload=" + CC],
                  "file": ["-F", "file=@" + JPEG]}
        ids = []
        for order in itertools.permutations(fields):
            args = [a for name in order for a in fields[name]]
            r = curl(*args, self.server.url("/api/v1/retoucher/start"))
            self.assertEqual(r.status, 200, (order, r))
            ids.append(r.json()["id"])
        self.assertEqual(len(set(ids)), 6)
        results = set()
        for job_id in ids:
            self.assertEqual(self.server.wait_job(job_id)["state"], "completed")
            results.add(curl(self.server.url("/api/v1/retoucher/getFile/" + job_id)).body)
        self.assertEqual(len(results), 1, "the same job gives the same bytes")

    def test_header_token_payload_file_and_double_slash(self):
        # Token in the header, payload sent as a file part, the `//start` spelling.
        payload = os.path.join(self.server.tmp, "task.json")
        with open(payload, "w") as f:
            f.write(CC)
        r = curl("-H", "X-Retouch-Token: " + self.token, "-F", "payload=@" + payload, "-F",
                 "file=@" + JPEG + ";type=image/jpeg",
                 self.server.url("/api/v1/retoucher//start"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.server.wait_job(r.json()["id"])["state"], "completed")

    def test_empty_payload_object(self):
        self.assertError(self.server.start_job(self.token, "{}"), 462, "mode")

    def test_client_polling_every_second(self):
        r = self.server.start_job(self.token, CC_LAYER)
        job_id = r.json()["id"]
        polls = 0
        while True:
            st = self.server.status(job_id).json()
            polls += 1
            if st["progress"] == 100:  # some clients watch only progress
                break
            time.sleep(1)
        self.assertEqual(st["state"], "completed")
        self.assertEqual(curl(self.server.url("/api/v1/retoucher/getFile/" + job_id)).status, 200)

    def test_client_checking_only_http_status(self):
        r = self.server.start_job(self.token)
        self.assertEqual(r.status, 200)
        job_id = r.json()["id"]
        url = self.server.url("/api/v1/retoucher/getFile/" + job_id)
        not_ready = 0
        deadline = time.time() + 300
        while time.time() < deadline:
            got = curl(url)
            if got.status == 200:
                break
            self.assertEqual(got.status, 404)
            not_ready += 1
            time.sleep(0.02)
        self.assertEqual(got.status, 200)
        self.assertEqual(image_size(got.body)[0], "jpeg")

    def test_client_sniffing_pk(self):
        flat = self.server.start_job(self.token, CC).json()["id"]
        layered = self.server.start_job(self.token, CC_LAYER).json()["id"]
        for job_id, is_zip in ((flat, False), (layered, True)):
            self.server.wait_job(job_id)
            body = curl(self.server.url("/api/v1/retoucher/getFile/" + job_id)).body
            self.assertEqual(body[:2] == b"PK", is_zip)

    def test_python_requests_client(self):
        try:
            import requests
        except ImportError:
            self.fail("python3-requests is missing: run scripts/bootstrap")
        base = self.server.url("")
        with open(PNG, "rb") as f:
            r = requests.post(base + "/api/v1/retoucher/start",
                              data={"token": self.token, "payload": CC},
                              files={"file": ("photo.png", f, "image/png")}, timeout=60)
        self.assertEqual(r.status_code, 200, r.text)
        job_id = r.json()["id"]
        deadline = time.time() + 300
        while time.time() < deadline:
            st = requests.get(base + "/api/v1/retoucher/status/" + job_id, timeout=60).json()
            if st["state"] in ("completed", "failed"):
                break
            time.sleep(0.05)
        self.assertEqual(st["state"], "completed")
        got = requests.get(base + "/api/v1/retoucher/getFile/" + job_id, timeout=60)
        self.assertEqual(got.headers["Content-Type"], "image/png")
        self.assertEqual(got.headers["Content-Disposition"], 'attachment; filename="photo.png"')
        self.assertEqual(image_size(got.content)[0], "png")
        balance = requests.post(base + "/api/retouch/v1/balance",
                                data={"retouchtoken": self.token,
                                      "modes[]": ["professional"]}, timeout=60)
        self.assertEqual(balance.json()["status"], 200)
        bad = requests.post(base + "/api/v1/retoucher/start", data={"token": "rt_x"},
                            files={"file": ("a.jpg", b"123")}, timeout=60)
        self.assertEqual(bad.status_code, 460)
        self.assertEqual(bad.json()["status"], 460)

    def test_node_fetch_client(self):
        node = shutil.which("node")
        if not node:
            self.fail("node is missing: run scripts/bootstrap")
        out = os.path.join(self.server.tmp, "node-result.jpg")
        run = subprocess.run([node, os.path.join(HERE, "client_node.mjs"), self.server.url(""),
                              self.token, JPEG, CC, out], capture_output=True, timeout=600)
        self.assertEqual(run.returncode, 0, run.stderr.decode())
        report = json.loads(run.stdout.decode().strip().splitlines()[-1])
        self.assertEqual(report["status"], 200)
        self.assertEqual(report["type"], "image/jpeg")
        self.assertEqual(report["disposition"], 'attachment; filename="server_headshot.jpg"')
        with open(out, "rb") as f:
            self.assertEqual(image_size(f.read())[0], "jpeg")


if __name__ == "__main__":
    main()

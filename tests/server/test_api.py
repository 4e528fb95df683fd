"""The API.md contract, route by route, with curl against a real retouchd."""
import io
import json
import os
import re
import socket
import time
import zipfile

from harness import (CC, CC_LAYER, CROP_LAYER, JPEG, PNG, ServerTest, curl, image_size,
                     main, make_png, multipart, raw_request)

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


class Contract(ServerTest):
    server_args = ("--max-upload", "600K", "--max-megapixels", "0.5",
                   "--webhook-allow", "hooks.example.com")

    def submit(self, payload=CC, image=JPEG, token=None):
        r = self.server.start_job(token or self.token, payload, image)
        self.assertEqual(r.status, 200, r)
        return r.json()

    # ---- start / status / getFile / getMetadata ----

    def test_flattened_job(self):
        started = self.submit()
        self.assertEqual(started["status"], 200)
        self.assertRegex(started["id"], r"^[A-Za-z0-9_-]{22,}$")  # >= 128 bits, URL-safe
        self.assertIsInstance(started["retouchQuota"], int)
        st = self.server.wait_job(started["id"])
        self.assertEqual(st["state"], "completed", st)
        self.assertEqual(st["progress"], 100)
        self.assertEqual(st["currentStep"], "done")
        self.assertEqual(st["reason"], "")
        self.assertEqual(st["attempt"], 1)
        self.assertEqual(st["maxAttempts"], 3)
        self.assertEqual(st["pluginName"], "")
        self.assertRegex(st["expireDate"], ISO)
        self.assertEqual(set(st), {"status", "state", "progress", "reason", "attempt",
                                   "maxAttempts", "currentStep", "pluginName", "expireDate"})
        r = curl(self.server.url("/api/v1/retoucher/getFile/" + started["id"]))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["content-type"], "image/jpeg")
        self.assertEqual(r.headers["content-disposition"],
                         'attachment; filename="server_headshot.jpg"')
        with open(JPEG, "rb") as f:
            original = f.read()
        self.assertEqual(image_size(r.body), image_size(original))
        self.assertNotEqual(r.body, original)
        meta = curl(self.server.url("/api/v1/retoucher/getMetadata/" + started["id"]))
        self.assertEqual(meta.status, 200)
        doc = meta.json()
        self.assertEqual(doc["jsonVersion"], "1")
        self.assertEqual(doc["plugins"][0]["pluginName"], "Color Correction")
        # HEAD answers like GET, without the body.
        head = curl("-I", self.server.url("/api/v1/retoucher/getFile/" + started["id"]))
        self.assertEqual(head.status, 200)
        self.assertEqual(head.headers["content-length"], str(len(r.body)))

    def test_layered_job_is_a_zip(self):
        job = self.submit(CC_LAYER)
        self.assertEqual(self.server.wait_job(job["id"])["state"], "completed")
        r = curl(self.server.url("/api/v1/retoucher/getFile/" + job["id"]))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["content-type"], "binary/octet-stream")
        self.assertEqual(r.headers["content-disposition"],
                         'attachment; filename="server_headshot.zip"')
        self.assertEqual(r.body[:2], b"PK")
        names = zipfile.ZipFile(io.BytesIO(r.body)).namelist()
        self.assertIn("index=0&blendmode=normal&name=Color Correction.png", names)
        self.assertIn("result.json", names)
        self.assertIn("flattened.jpg", names)
        meta = curl(self.server.url("/api/v1/retoucher/getMetadata/" + job["id"]))
        self.assertEqual(meta.json()["layers"][0]["name"], "Color Correction")

    def test_png_stays_png_and_crop_layer(self):
        job = self.submit(CC, PNG)
        self.server.wait_job(job["id"])
        r = curl(self.server.url("/api/v1/retoucher/getFile/" + job["id"]))
        self.assertEqual(r.headers["content-type"], "image/png")
        self.assertEqual(r.headers["content-disposition"],
                         'attachment; filename="server_headshot.png"')
        self.assertEqual(image_size(r.body)[0], "png")
        job = self.submit(CROP_LAYER)
        self.assertEqual(self.server.wait_job(job["id"])["state"], "completed")
        meta = curl(self.server.url("/api/v1/retoucher/getMetadata/" + job["id"])).json()
        self.assertIn("angle", meta["plugins"][0]["metadata"])

    def test_output_format_changes_the_name(self):
        job = self.submit('{"mode":"professional","outputFormat":"png",'
                          '"tasks":[{"Plugin":"Color Correction"}]}')
        self.server.wait_job(job["id"])
        r = curl(self.server.url("/api/v1/retoucher/getFile/" + job["id"]))
        self.assertEqual(r.headers["content-type"], "image/png")
        self.assertEqual(r.headers["content-disposition"],
                         'attachment; filename="server_headshot.png"')

    def test_repeated_slashes(self):
        r = curl("-F", "token=" + self.token, "-F", "payload=" + CC, "-F", "file=@" + JPEG,
                 self.server.url("/api/v1/retoucher//start"))
        self.assertEqual(r.status, 200, r)
        job_id = r.json()["id"]
        r = curl(self.server.url("//api/v1//retoucher/status//%s/" % job_id))
        self.assertEqual(r.status, 200, r)

    def test_progress_is_monotone_and_ends_at_100(self):
        job = self.submit(CROP_LAYER)
        seen = []
        while True:
            st = self.server.status(job["id"]).json()
            seen.append((st["state"], st["progress"], st["currentStep"]))
            if st["state"] in ("completed", "failed"):
                break
            self.assertLess(st["progress"], 100, st)
            self.assertIn(st["currentStep"], ("queued", "reading", "analysing", "processing",
                                              "writing"))
            if st["state"] == "waiting":
                self.assertEqual(st["currentStep"], "queued")
            time.sleep(0.01)
        progress = [p for _, p, _ in seen]
        self.assertEqual(progress, sorted(progress), seen)
        self.assertEqual(seen[-1], ("completed", 100, "done"))

    # ---- errors ----

    def test_start_errors(self):
        url = self.server.url("/api/v1/retoucher/start")
        self.assertError(curl("-F", "token=" + self.token, "-F", "payload=" + CC, url), 400,
                         "No file uploaded")
        text = self.tmpfile("notes.jpg", b"this is not a photo")
        body = self.assertError(curl("-F", "token=" + self.token, "-F", "payload=" + CC, "-F",
                                     "file=@" + text, url), 400, "notes.jpg")
        self.assertNotIn(self.server.data, body["message"])  # no server paths in answers
        self.assertError(self.server.start_job(self.token, "{}"), 462, "mode")
        self.assertError(self.server.start_job(self.token, '{"mode":"professional"'), 462)
        body = self.assertError(
            self.server.start_job(self.token,
                                  '{"mode":"professional","tasks":[{"Plugin":"Nope"}]}'),
            462, "tasks[0]")
        self.assertIn("Color Correction", body["message"])  # lists the valid names
        self.assertError(
            self.server.start_job(self.token, '{"mode":"professional","tasks":[{"Plugin":'
                                  '"Color Correction","Scale":9}]}'), 462, "scale")
        limits = curl(self.server.url("/api/v1/info/limits")).json()
        missing = [p["name"] for p in limits["plugins"] if not p["implemented"]]
        if missing:
            self.assertError(
                self.server.start_job(self.token, '{"mode":"professional","tasks":[{"Plugin":'
                                      '"%s"}]}' % missing[0]), 462, "not implemented")
        self.assertError(curl("-F", "token=" + self.token, "-F", "file=@" + JPEG, url), 462,
                         "payload")
        self.assertError(curl("-F", "payload=" + CC, "-F", "file=@" + JPEG, url), 460, "missing")
        self.assertError(self.server.start_job("rt_wrong"), 460, "not found")
        self.assertError(curl("-H", "X-Retouch-Token: rt_wrong", "-F", "payload=" + CC, "-F",
                              "file=@" + JPEG, url), 460)
        self.assertError(curl("-H", "Content-Type: application/json", "-d", "{}", url), 400,
                         "multipart/form-data")
        self.assertError(self.server.start_job(self.token, CC, JPEG, "-F",
                                               "hook=https://evil.example.net/x"), 400,
                         "allow-list")
        self.assertError(self.server.start_job(self.token, CC, JPEG, "-F",
                                               "hook=ftp://hooks.example.com/x"), 400, "scheme")
        # Nothing refused was charged or left behind.
        self.assertEqual(os.listdir(os.path.join(self.server.data, "spool")), [])
        self.assertEqual(os.listdir(os.path.join(self.server.data, "jobs")), [])

    def test_size_limits(self):
        url = self.server.url("/api/v1/retoucher/start")
        big = self.tmpfile("big.jpg", b"\xff\xd8" + os.urandom(700 * 1024))
        # Content-Length over the limit: refused before the body is sent.
        self.assertError(curl("-F", "token=" + self.token, "-F", "payload=" + CC, "-F",
                              "file=@" + big, url), 413)
        # Chunked: no length up front, refused while streaming.
        self.assertError(curl("-H", "Transfer-Encoding: chunked", "-F", "token=" + self.token,
                              "-F", "payload=" + CC, "-F", "file=@" + big, url), 413, "limit")
        # The payload: over 64 KiB is the payload rule (462), far over it a 413.
        big_payload = self.tmpfile("p.json", ('{"mode":"professional","tasks":[{"Plugin":'
                                              '"Color Correction"}],"pad":"%s"}' %
                                              ("x" * 100000)).encode())
        self.assertError(curl("-F", "token=" + self.token, "-F", "payload=<" + big_payload,
                              "-F", "file=@" + JPEG, url), 462)
        huge_payload = self.tmpfile("q.json", b"x" * 300000)
        self.assertError(curl("-F", "token=" + self.token, "-F", "payload=<" + huge_payload,
                              "-F", "file=@" + JPEG, url), 413, "payload")
        # Megapixels, from the header: 1000 x 1000 is over 0.5 MP but a tiny file.
        huge = self.tmpfile("huge.png", make_png(1000, 1000))
        self.assertLess(os.path.getsize(huge), 64 * 1024)
        self.assertError(self.server.start_job(self.token, CC, huge), 413, "huge.png")
        self.assertEqual(os.listdir(os.path.join(self.server.data, "spool")), [])

    def test_job_route_errors(self):
        self.assertError(self.server.status("AAAAAAAAAAAAAAAAAAAAAAAA"), 404, "unknown job")
        self.assertError(curl(self.server.url("/api/v1/retoucher/getFile/nope")), 404,
                         "unknown job")
        self.assertError(curl(self.server.url("/api/v1/retoucher/status/a.b")), 404)
        self.assertError(curl(self.server.url("/api/v1/unknown")), 404, "unknown route")
        self.assertError(curl(self.server.url("/api/v1/retoucher/start")), 404, "POST")
        self.assertError(curl("-X", "DELETE", self.server.url("/healthz")), 404)
        # A failed job: truncated image passes the header check, fails to decode.
        with open(JPEG, "rb") as f:
            data = f.read()
        cut = self.tmpfile("cut.jpg", data[:len(data) // 3])
        job = self.submit(CC, cut)
        st = self.server.wait_job(job["id"])
        self.assertEqual(st["state"], "failed")
        self.assertEqual(st["progress"], 100)
        self.assertTrue(st["reason"])
        self.assertError(curl(self.server.url("/api/v1/retoucher/getFile/" + job["id"])), 404,
                         "failed")
        self.assertError(curl(self.server.url("/api/v1/retoucher/getMetadata/" + job["id"])), 404,
                         "failed")

    # ---- balance, limits, health, metrics ----

    def test_balance_spellings(self):
        token, _ = self.server.create_token("counted", "--credits", "7")
        for path in ("/api/v1/balance", "/api/retouch/v1/balance", "//api/v1/balance"):
            r = curl("-F", "retouchtoken=" + token, "-F", "modes[]=professional",
                     self.server.url(path))
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json(), {"status": 200, "remaining": {"professional": 7}})
            r = curl("--data-urlencode", "retouchtoken=" + token, "--data-urlencode",
                     "modes[]=professional", self.server.url(path))
            self.assertEqual(r.json()["remaining"]["professional"], 7, r)
            r = curl("-H", "X-Retouch-Token: " + token, "-H", "Content-Type: application/json",
                     "-d", '{"modes":["professional"]}', self.server.url(path))
            self.assertEqual(r.json()["remaining"]["professional"], 7, r)
        self.assertError(curl("-F", "retouchtoken=rt_nope", "-F", "modes[]=professional",
                              self.server.url("/api/v1/balance")), 460)
        self.assertError(curl("-X", "POST", self.server.url("/api/v1/balance")), 460, "missing")
        self.assertError(curl("-H", "Content-Type: application/json", "-d", "{nope",
                              self.server.url("/api/v1/balance")), 400, "JSON")

    def test_limits_health_metrics(self):
        limits = curl(self.server.url("/api/v1/info/limits"))
        self.assertEqual(limits.status, 200)
        doc = limits.json()
        self.assertEqual(doc["maxUploadBytes"], 600 * 1024)
        self.assertEqual(doc["maxMegapixels"], 0.5)
        for fmt in ("jpeg", "png", "tiff", "webp", "heif"):
            self.assertIn(fmt, doc["formats"])
        health = curl(self.server.url("/healthz"))
        self.assertEqual((health.status, health.json()["status"]), (200, 200))
        job = self.submit()
        self.server.wait_job(job["id"])
        m = curl(self.server.url("/metrics"))
        self.assertEqual(m.status, 200)
        self.assertTrue(m.headers["content-type"].startswith("text/plain"))
        text = m.body.decode()
        self.assertIn('retouchd_jobs{state="completed"} 1', text)
        self.assertIn("retouchd_queue_depth 0", text)
        self.assertIn('retouchd_processing_seconds_bucket{le="+Inf"} 1', text)
        self.assertIn("retouchd_processing_seconds_count 1", text)
        uploaded = int(re.search(r"retouchd_upload_bytes_total (\d+)", text).group(1))
        self.assertGreater(uploaded, os.path.getsize(JPEG))

    # ---- uploads: names, encodings, broken bodies ----

    def test_file_names_never_reach_the_disk(self):
        with open(JPEG, "rb") as f:
            image = f.read()
        cases = [
            (b'; filename="../../../../tmp/evil.jpg"', "evil.jpg", None),
            (b'; filename="C:\\\\fakepath\\\\win.jpg"', "win.jpg", None),
            (b"; filename*=UTF-8''%C3%A9t%C3%A9%20%F0%9F%93%B7.jpg", None,
             "filename*=UTF-8''%C3%A9t%C3%A9%20%F0%9F%93%B7.jpg"),
            (b'; filename="\xd1\x84\xd0\xbe\xd1\x82\xd0\xbe.jpg"', None,
             "filename*=UTF-8''%D1%84%D0%BE%D1%82%D0%BE.jpg"),
        ]
        for extra, plain, encoded in cases:
            body, ctype = multipart([("token", self.token.encode(), b"", None),
                                     ("payload", CC.encode(), b"", None),
                                     ("file", image, extra, "image/jpeg")])
            path = self.tmpfile("body", body)
            r = curl("-H", "Content-Type: " + ctype, "--data-binary", "@" + path,
                     self.server.url("/api/v1/retoucher/start"))
            self.assertEqual(r.status, 200, r)
            job_id = r.json()["id"]
            self.server.wait_job(job_id)
            got = curl(self.server.url("/api/v1/retoucher/getFile/" + job_id))
            disposition = got.headers["content-disposition"]
            if plain:
                self.assertEqual(disposition, 'attachment; filename="%s"' % plain)
            else:
                self.assertIn(encoded, disposition)
        # Only server-chosen names exist under the data directory.
        for root, dirs, files in os.walk(self.server.data):
            for name in dirs + files:
                self.assertRegex(name, r"^([A-Za-z0-9_-]+|input|result\.[a-z]+|"
                                       r"retouchd\.(db|db-wal|db-shm|lock|key)|spool|jobs)$")
        self.assertFalse(os.path.exists("/tmp/evil.jpg"))

    def test_chunked_upload(self):
        r = self.server.start_job(self.token, CC, JPEG, "-H", "Transfer-Encoding: chunked")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.server.wait_job(r.json()["id"])["state"], "completed")

    def test_broken_bodies(self):
        with open(JPEG, "rb") as f:
            image = f.read()
        body, ctype = multipart([("token", self.token.encode(), b"", None),
                                 ("payload", CC.encode(), b"", None),
                                 ("file", image, b'; filename="a.jpg"', None)])
        # The closing boundary missing: a truncated upload is refused.
        cut = body[:len(body) // 2]
        head = ("POST /api/v1/retoucher/start HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n"
                "Content-Length: %d\r\nConnection: close\r\n\r\n" % (ctype, len(cut))).encode()
        status, answer = raw_request(self.server.port, head + cut)
        self.assertEqual(status, 400, answer)
        self.assertIn(b"truncated", answer)
        # The client vanishes mid-body: nothing is left behind.
        head = ("POST /api/v1/retoucher/start HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n"
                "Content-Length: %d\r\n\r\n" % (ctype, len(body))).encode()
        s = socket.create_connection(("127.0.0.1", self.server.port))
        s.sendall(head + cut)
        time.sleep(0.2)
        s.close()
        # Garbage, bad boundaries, binary junk: 400s, and the server stays up.
        for junk in (b"\x00" * 100, b"--" + b"x" * 300 + b"\r\n", os.urandom(4096)):
            path = self.tmpfile("junk", junk)
            self.assertError(curl("-H", "Content-Type: " + ctype, "--data-binary", "@" + path,
                                  self.server.url("/api/v1/retoucher/start")), 400)
        self.assertError(curl("-H", "Content-Type: multipart/form-data", "--data-binary", "x",
                              self.server.url("/api/v1/retoucher/start")), 400, "boundary")
        status, _ = raw_request(self.server.port, b"GARBAGE\r\n\r\n")
        self.assertIn(status, (0, 400))
        deadline = time.time() + 60
        while os.listdir(os.path.join(self.server.data, "spool")) and time.time() < deadline:
            time.sleep(0.05)  # the aborted connection is cleaned up when MHD notices it
        self.assertEqual(os.listdir(os.path.join(self.server.data, "spool")), [])
        self.assertEqual(curl(self.server.url("/healthz")).status, 200)

    # ---- tokens, quotas, idempotency ----

    def test_quota_and_refund(self):
        daily, _ = self.server.create_token("daily", "--daily-quota", "2")
        self.assertEqual(self.submit(token=daily)["retouchQuota"], 1)
        self.assertEqual(self.submit(token=daily)["retouchQuota"], 0)
        self.assertError(self.server.start_job(daily), 461, "daily quota")
        paid, _ = self.server.create_token("paid", "--credits", "2")
        with open(JPEG, "rb") as f:
            data = f.read()
        cut = self.tmpfile("cut.jpg", data[:len(data) // 3])
        failing = self.submit(CC, cut, token=paid)
        self.assertEqual(failing["retouchQuota"], 1)
        self.assertEqual(self.server.wait_job(failing["id"])["state"], "failed")
        balance = curl("-F", "retouchtoken=" + paid, self.server.url("/api/v1/balance")).json()
        self.assertEqual(balance["remaining"]["professional"], 2)  # refunded
        self.submit(token=paid)
        self.submit(token=paid)
        self.assertError(self.server.start_job(paid), 461, "credits")
        self.server.cli("token", "revoke", paid)
        self.assertError(self.server.start_job(paid), 460, "revoked")

    def test_idempotency_key(self):
        paid, _ = self.server.create_token("idem", "--credits", "5")
        key = ["-H", "Idempotency-Key: order-42"]
        first = self.server.start_job(paid, CC, JPEG, *key)
        again = self.server.start_job(paid, CC, JPEG, *key)
        self.assertEqual(first.status, 200, first)
        self.assertEqual(first.json(), again.json())
        other = self.server.start_job(paid, CC, JPEG, "-H", "Idempotency-Key: order-43")
        self.assertNotEqual(other.json()["id"], first.json()["id"])
        # The same key from another token is another job.
        theirs = self.server.start_job(self.token, CC, JPEG, *key)
        self.assertNotEqual(theirs.json()["id"], first.json()["id"])
        balance = curl("-F", "retouchtoken=" + paid, self.server.url("/api/v1/balance")).json()
        self.assertEqual(balance["remaining"]["professional"], 3)
        self.assertEqual(len(os.listdir(os.path.join(self.server.data, "jobs"))), 3)


class Expiry(ServerTest):
    server_args = ("--retention", "2s")

    def test_results_expire(self):
        r = self.server.start_job(self.token)
        job_id = r.json()["id"]
        st = self.server.wait_job(job_id)
        self.assertEqual(curl(self.server.url("/api/v1/retoucher/getFile/" + job_id)).status, 200)
        folder = os.path.join(self.server.data, "jobs", job_id)
        self.assertTrue(os.path.isdir(folder))
        deadline = time.time() + 120
        while self.server.status(job_id).status == 200 and time.time() < deadline:
            time.sleep(0.2)
        body = self.assertError(self.server.status(job_id), 404, "expired")
        self.assertIn(st["expireDate"], body["message"])
        self.assertError(curl(self.server.url("/api/v1/retoucher/getFile/" + job_id)), 404,
                         "expired")
        while os.path.exists(folder) and time.time() < deadline:
            time.sleep(0.2)
        self.assertFalse(os.path.exists(folder))  # the janitor deleted the files


if __name__ == "__main__":
    main()

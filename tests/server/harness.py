"""Black-box test harness for retouchd: runs a real server on a free loopback
port with a temporary data directory, talks to it with curl, and cleans up.

Configured by environment variables (set by tests/server/CMakeLists.txt):
  RETOUCHD       the retouchd binary
  RETOUCH_CLI    the retouch CLI binary (load test comparison)
  RT_TEST_DATA   tests/data
  RT_SANITIZE    "1" in sanitizer builds (tests scale down their load)
"""
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

RETOUCHD = os.environ.get("RETOUCHD", "retouchd")
RETOUCH_CLI = os.environ.get("RETOUCH_CLI", "retouch")
TEST_DATA = os.environ.get("RT_TEST_DATA", os.path.join(os.path.dirname(__file__), "..", "data"))
SANITIZED = os.environ.get("RT_SANITIZE") == "1"

JPEG = os.path.join(TEST_DATA, "server_headshot.jpg")
PNG = os.path.join(TEST_DATA, "server_headshot.png")
CC = '{"mode":"professional","tasks":[{"Plugin":"Color Correction"}]}'
CC_LAYER = '{"mode":"professional","tasks":[{"Plugin":"Color Correction","Layer":1}]}'
CROP_LAYER = ('{"mode":"professional","tasks":[{"Plugin":"Crop","Layer":1,'
              '"User Params":{"AutoStraightenMode":"AI"}}]}')

# Safety nets only: no test asserts on how long anything takes.
START_TIMEOUT = 120
JOB_TIMEOUT = 300


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case name -> value (last one wins)
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "Response(%d, %r)" % (self.status, self.body[:300])


def curl(*args, timeout=120):
    """Runs curl; returns the final Response (status, headers, body)."""
    with tempfile.TemporaryDirectory(prefix="rd-curl-") as tmp:
        body_path = os.path.join(tmp, "body")
        head_path = os.path.join(tmp, "head")
        cmd = ["curl", "-sS", "-o", body_path, "-D", head_path, "-w", "%{http_code}"] + list(args)
        out = subprocess.run(cmd, capture_output=True, timeout=timeout)
        status = int(out.stdout.decode() or "0")
        headers = {}
        if os.path.exists(head_path):
            with open(head_path, "rb") as f:
                for line in f.read().decode("latin-1").split("\r\n"):
                    if line.startswith("HTTP/"):
                        headers = {}  # keep only the last response's headers (after a 100)
                    elif ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
        body = b""
        if os.path.exists(body_path):
            with open(body_path, "rb") as f:
                body = f.read()
        return Response(status, headers, body)


def raw_request(port, data, read_timeout=60):
    """Sends raw bytes and returns (status, body) parsed from the answer."""
    s = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            c = s.recv(65536)
            if not c:
                break
            chunks.append(c)
    finally:
        s.close()
    answer = b"".join(chunks)
    if not answer:
        return 0, b""
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    return status, body


def multipart(fields, boundary="rdTestBoundary7MA4YWxkTrZu0gW"):
    """Builds a multipart body from [(name, value_bytes, extra_disposition, content_type)]."""
    out = b""
    for name, value, extra, ctype in fields:
        out += b"--" + boundary.encode() + b"\r\n"
        out += b'Content-Disposition: form-data; name="' + name.encode() + b'"' + extra + b"\r\n"
        if ctype:
            out += b"Content-Type: " + ctype.encode() + b"\r\n"
        out += b"\r\n" + value + b"\r\n"
    out += b"--" + boundary.encode() + b"--\r\n"
    return out, "multipart/form-data; boundary=" + boundary


def image_size(data):
    """(format, width, height) of a JPEG or PNG held in bytes, read from its header."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png", int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            length = int.from_bytes(data[i + 2:i + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                h = int.from_bytes(data[i + 5:i + 7], "big")
                w = int.from_bytes(data[i + 7:i + 9], "big")
                return "jpeg", w, h
            i += 2 + length
    return None, 0, 0


def make_png(width, height, rgb=(128, 100, 90)):
    """A flat-colour RGB PNG: many pixels in few bytes (megapixel-limit tests)."""
    import struct
    import zlib
    row = b"\x00" + bytes(rgb) * width
    raw = zlib.compress(row * height, 9)

    def chunk(kind, payload):
        c = struct.pack(">I", len(payload)) + kind + payload
        return c + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def verify_signature(secret, body, header):
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header or "")


class Server:
    """One retouchd process with its own data directory."""

    def __init__(self, *args, data_dir=None, env=None, workers=2):
        self.tmp = tempfile.mkdtemp(prefix="retouchd-test-")
        self.data = data_dir or os.path.join(self.tmp, "data")
        self.args = ["--workers", str(workers)] + list(args)
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.tmp, "retouchd.log")
        self.log_file = None

    # ---- process ----
    def start(self):
        port_file = os.path.join(self.tmp, "port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [RETOUCHD, "--data-dir", self.data, "--listen", "127.0.0.1:0", "--port-file",
             port_file] + self.args,
            stdout=self.log_file, stderr=self.log_file, env=self.env)
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            if os.path.exists(port_file):
                with open(port_file) as f:
                    text = f.read().strip()
                if text:
                    self.port = int(text)
                    return self
            if self.proc.poll() is not None:
                raise AssertionError("retouchd exited at start (%d):\n%s" %
                                     (self.proc.returncode, self.log()))
            time.sleep(0.05)
        raise AssertionError("retouchd did not start:\n" + self.log())

    def stop(self, sig=signal.SIGTERM, timeout=120):
        """Stops the server; returns its exit status (-N for a signal)."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise AssertionError("retouchd did not stop after signal %d" % sig)
        finally:
            self.log_file.close()
        self.proc = None
        return rc

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def check_clean_exit(self, testcase, rc):
        """A clean stop: exit 0 and no sanitizer report in the log."""
        log = self.log()
        testcase.assertEqual(rc, 0, "retouchd exit status %r\n%s" % (rc, log[-4000:]))
        for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            testcase.assertNotIn(marker, log, log[-4000:])

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.log_file and not self.log_file.closed:
            self.log_file.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_events(self):
        events = []
        for line in self.log().splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    events.append(json.loads(line))
                except ValueError:
                    pass
        return events

    # ---- commands ----
    def cli(self, *args, check=True):
        out = subprocess.run([RETOUCHD, "--data-dir", self.data] + list(args),
                             capture_output=True, env=self.env, timeout=120)
        if check and out.returncode != 0:
            raise AssertionError("retouchd %s failed (%d): %s" %
                                 (" ".join(args), out.returncode, out.stderr.decode()))
        return out

    def create_token(self, name="test", *extra):
        out = self.cli("token", "create", "--name", name, *extra)
        lines = out.stdout.decode().strip().splitlines()
        secret = [l.split(": ", 1)[1] for l in lines if l.startswith("webhook secret: ")][0]
        return lines[-1], secret

    # ---- HTTP ----
    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def start_job(self, token, payload=CC, image=JPEG, *extra):
        return curl("-F", "token=" + token, "-F", "payload=" + payload, "-F", "file=@" + image,
                    *extra, self.url("/api/v1/retoucher/start"))

    def status(self, job_id):
        return curl(self.url("/api/v1/retoucher/status/" + job_id))

    def wait_job(self, job_id, states=("completed", "failed"), timeout=JOB_TIMEOUT, poll=0.05):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            r = self.status(job_id)
            if r.status == 200:
                last = r.json()
                if last["state"] in states:
                    return last
            time.sleep(poll)
        raise AssertionError("job %s did not reach %s; last status %r" % (job_id, states, last))


class ServerTest(unittest.TestCase):
    """A test case with one server (started in setUp with server_args)."""

    server_args = ()
    server_env = None
    workers = 2

    def setUp(self):
        self.server = Server(*self.server_args, env=self.server_env, workers=self.workers)
        self.addCleanup(self.server.cleanup)
        self.server.start()
        self.token, self.secret = self.server.create_token("tester")

    def tearDown(self):
        # Every test ends with a clean SIGTERM stop: exit 0, no sanitizer report.
        if self.server.proc:
            self.stop_clean()

    def tmpfile(self, name, data):
        path = os.path.join(self.server.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def assertError(self, r, status, *words):
        """An error answer as API.md says: HTTP status = code, JSON body with a message."""
        self.assertEqual(r.status, status, r)
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"), r.headers)
        body = r.json()
        self.assertEqual(body["status"], status)
        self.assertTrue(body["message"], body)
        for w in words:
            self.assertIn(w.lower(), body["message"].lower(), body)
        return body

    def stop_clean(self):
        rc = self.server.stop()
        self.server.check_clean_exit(self, rc)


def main():
    unittest.main(verbosity=2)

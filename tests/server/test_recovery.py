"""kill -9 in the middle of jobs and uploads: after a restart every accepted job
finishes, none is lost, none is done twice into different results; a job
that kills the server on every try fails after its tries, credit refunded."""
import io
import os
import socket
import sqlite3
import subprocess
import time
import unittest
import zipfile

from harness import (CC, JPEG, RETOUCH_CLI, TEST_DATA, Server, curl, main, multipart)

# A job long enough (about half a second, more under sanitizers) to be caught
# in the middle.
BIG = os.path.join(TEST_DATA, "london_012_800.jpg")
SLOW = ('{"mode":"professional","tasks":[{"Plugin":"Crop","Layer":1,"User Params":'
        '{"AutoStraightenMode":"AI"}},{"Plugin":"Color Correction","Layer":1}]}')


def active_jobs(data_dir):
    """Jobs the store holds as active (read straight from the database)."""
    db = sqlite3.connect("file:%s/retouchd.db?mode=ro" % data_dir, uri=True)
    try:
        return [r[0] for r in db.execute("SELECT id FROM jobs WHERE state = 'active'")]
    finally:
        db.close()


class Recovery(unittest.TestCase):
    def new_server(self, data_dir=None, workers=1):
        s = Server(data_dir=data_dir, workers=workers)
        self.addCleanup(s.cleanup)
        return s.start()

    def kill_while_active(self, server, ids):
        """Watches the store until one of ids is active, then kill -9; returns
        the jobs the store holds as active at the moment of death."""
        deadline = time.time() + 300
        wanted = set(ids)
        while time.time() < deadline:
            if wanted & set(active_jobs(server.data)):
                server.kill9()
                return active_jobs(server.data)
            time.sleep(0.002)
        self.fail("no job became active")

    def test_kill9_mid_job_loses_nothing(self):
        server = self.new_server()
        token, _ = server.create_token("recovery", "--credits", "100")
        ids = []
        interrupted = []
        # A few rounds: each submits jobs and kills the server while one runs;
        # the restarted server finishes the round's jobs before the next one
        # (three kills in one job would fail it: see the poison test).
        for _ in range(3):
            batch = []
            for _ in range(3):
                r = server.start_job(token, SLOW, BIG)
                self.assertEqual(r.status, 200, r)
                batch.append(r.json()["id"])
            ids += batch
            interrupted += self.kill_while_active(server, batch)
            server = self.new_server(data_dir=server.data)
            for job_id in batch:
                server.wait_job(job_id)
        self.assertTrue(interrupted, "at least one job was caught in the middle")
        results = {}
        for job_id in ids:
            st = server.wait_job(job_id)
            self.assertEqual(st["state"], "completed", st)
            if job_id in interrupted:
                self.assertGreaterEqual(st["attempt"], 2, st)
            got = curl(server.url("/api/v1/retoucher/getFile/" + job_id))
            self.assertEqual(got.status, 200)
            results[job_id] = got.body
        # Same input, same tasks: the same result, whatever was interrupted.
        files = {}
        for job_id, body in results.items():
            z = zipfile.ZipFile(io.BytesIO(body))
            files[job_id] = {n: z.read(n) for n in z.namelist() if n != "result.json"}
        first = files[ids[0]]
        for job_id in ids[1:]:
            self.assertEqual(files[job_id], first, "job %s differs" % job_id)
        # One folder and one result per job: nothing done twice.
        jobs_dir = os.path.join(server.data, "jobs")
        self.assertEqual(sorted(os.listdir(jobs_dir)), sorted(ids))
        for job_id in ids:
            self.assertEqual(sorted(os.listdir(os.path.join(jobs_dir, job_id))),
                             ["result.json", "result.zip"])
        # Credits: one per job, whatever the restarts.
        balance = curl("-F", "retouchtoken=" + token, server.url("/api/v1/balance")).json()
        self.assertEqual(balance["remaining"]["professional"], 100 - len(ids))
        rc = server.stop()
        server.check_clean_exit(self, rc)

    def test_same_result_as_the_cli(self):
        server = self.new_server()
        token, _ = server.create_token("cli")
        r = server.start_job(token, CC, JPEG)
        job_id = r.json()["id"]
        server.kill9()  # whether or not it had started
        server = self.new_server(data_dir=server.data)
        self.assertEqual(server.wait_job(job_id)["state"], "completed")
        got = curl(server.url("/api/v1/retoucher/getFile/" + job_id)).body
        payload = os.path.join(server.tmp, "cc.json")
        with open(payload, "w") as f:
            f.write(CC)
        out = os.path.join(server.tmp, "cli.jpg")
        cli = subprocess.run([RETOUCH_CLI, "-q", "-p", payload, "-o", out, JPEG],
                             capture_output=True, timeout=300)
        self.assertEqual(cli.returncode, 0, cli.stderr)
        with open(out, "rb") as f:
            self.assertEqual(got, f.read())
        server.check_clean_exit(self, server.stop())

    def test_kill9_during_upload_and_orphans(self):
        server = self.new_server()
        token, _ = server.create_token("upload")
        with open(JPEG, "rb") as f:
            image = f.read()
        body, ctype = multipart([("token", token.encode(), b"", None),
                                 ("payload", CC.encode(), b"", None),
                                 ("file", image, b'; filename="a.jpg"', None)])
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(("POST /api/v1/retoucher/start HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n"
                   "Content-Length: %d\r\n\r\n" % (ctype, len(body))).encode())
        s.sendall(body[:len(body) // 2])
        spool = os.path.join(server.data, "spool")
        deadline = time.time() + 120
        while not os.listdir(spool) and time.time() < deadline:
            time.sleep(0.01)
        self.assertEqual(len(os.listdir(spool)), 1, "the upload is being spooled")
        server.kill9()
        s.close()
        # A folder left by a crash between moving an upload and recording its job.
        orphan = os.path.join(server.data, "jobs", "OrphanFolder0123456789ab")
        os.makedirs(orphan)
        with open(os.path.join(orphan, "input"), "wb") as f:
            f.write(image)
        server = self.new_server(data_dir=server.data)
        self.assertEqual(os.listdir(spool), [])
        self.assertFalse(os.path.exists(orphan))
        r = server.start_job(token)
        self.assertEqual(server.wait_job(r.json()["id"])["state"], "completed")
        server.check_clean_exit(self, server.stop())

    def test_job_that_kills_every_try_fails_and_refunds(self):
        server = self.new_server()
        token, _ = server.create_token("poison", "--credits", "3")
        r = server.start_job(token, SLOW, BIG)
        job_id = r.json()["id"]
        tries = 0
        while True:
            st = server.status(job_id).json()
            if st["state"] in ("completed", "failed"):
                break
            caught = self.kill_while_active(server, [job_id])
            tries += bool(caught)
            server = self.new_server(data_dir=server.data)
        if tries < 3:
            # The job outran a kill and completed: that is the other valid ending.
            self.assertEqual(st["state"], "completed", st)
            self.skipTest("the job finished before it was killed three times")
        self.assertEqual(st["state"], "failed", st)
        self.assertEqual(st["attempt"], 3)
        self.assertEqual(st["progress"], 100)
        self.assertIn("stopped during each of its 3 tries", st["reason"])
        balance = curl("-F", "retouchtoken=" + token, server.url("/api/v1/balance")).json()
        self.assertEqual(balance["remaining"]["professional"], 3)
        self.assertFalse(os.path.exists(os.path.join(server.data, "jobs", job_id)))
        server.check_clean_exit(self, server.stop())


if __name__ == "__main__":
    main()

"""retouchd on a small, full disk (issue 14 items 2, 3 and 10): the data
directory is a tmpfs the test mounts (skipped with a message where mounting
is not allowed, e.g. not root).  Every connection goes to 127.0.0.1."""
import os
import socket
import subprocess
import threading
import time
import unittest

from harness import CC, JPEG, TEST_DATA, Server, main

BIG = os.path.join(TEST_DATA, "london_012_800.jpg")
SLOW = ('{"mode":"professional","tasks":[{"Plugin":"Crop","Layer":1,"User Params":'
        '{"AutoStraightenMode":"AI"}},{"Plugin":"Color Correction","Layer":1}]}')
MiB = 1 << 20


def mount_tmpfs(path, size_mib):
    """Mounts a tmpfs of size_mib at path; returns None, or why it cannot."""
    os.makedirs(path, exist_ok=True)
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root"
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=700" % size_mib, "tmpfs",
                          path], capture_output=True)
    if out.returncode != 0:
        return "cannot mount a tmpfs: " + out.stderr.decode().strip()
    return None


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path, leave):
    """Writes a filler file until only about `leave` bytes are free."""
    filler = os.path.join(path, "filler")
    with open(filler, "ab") as f:
        block = b"\0" * (256 << 10)
        while True:
            room = free_bytes(path) - leave
            if room <= 0:
                break
            try:
                f.write(block[:min(len(block), room)])
                f.flush()
            except OSError:
                break
    return filler


class SmallDisk(unittest.TestCase):
    size_mib = 40

    def setUp(self):
        self.mnt = None

    def start(self, *args, workers=1):
        self.server = Server(*args, workers=workers)
        self.mnt = os.path.join(self.server.tmp, "mnt")
        why = mount_tmpfs(self.mnt, self.size_mib)
        if why:
            self.server.cleanup()
            self.skipTest(why)
        self.addCleanup(self.unmount)
        self.server.data = os.path.join(self.mnt, "data")
        self.server.start()
        self.token, _ = self.server.create_token("user")
        return self.server

    def unmount(self):
        try:
            self.server.cleanup_proc = None
            if self.server.proc and self.server.proc.poll() is None:
                self.server.proc.kill()
                self.server.proc.wait()
        finally:
            subprocess.run(["umount", "-l", self.mnt], capture_output=True)
            self.server.cleanup()

    def stop_clean(self):
        rc = self.server.stop()
        self.server.check_clean_exit(self, rc)

    def test_upload_without_token_cannot_fill_the_disk(self):
        """Item 2: 58 MB with no token, file first, last bytes held back."""
        s = self.start("--max-unauth-spool", "4M", "--min-free", "4M")
        total = 58 * MiB
        head = (b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.jpg\"\r\n"
                b"Content-Type: image/jpeg\r\n\r\n")
        attacker = socket.create_connection(("127.0.0.1", s.port), timeout=60)
        attacker.sendall(b"POST /api/v1/retoucher/start HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: multipart/form-data; boundary=B\r\n"
                         b"Content-Length: %d\r\n\r\n" % total + head)
        sent = len(head)
        chunk = b"\xff" * MiB
        try:
            while sent + len(chunk) < total - 1024:  # the last bytes held back
                attacker.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the server may close the connection: fine
        # A real user's upload still works, and its job runs.
        r = s.start_job(self.token)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(s.wait_job(r.json()["id"])["state"], "completed")
        attacker.close()
        self.stop_clean()

    def test_reserve_gives_507_while_running_jobs_finish(self):
        """Items 2 and 10: below the free-space reserve new uploads get 507
        with Retry-After, and a job already running still completes."""
        s = self.start("--min-free", "8M")
        r = s.start_job(self.token, SLOW, BIG)
        self.assertEqual(r.status, 200, r)
        job = r.json()["id"]
        fill(self.mnt, 6 * MiB)
        r = s.start_job(self.token)
        self.assertEqual(r.status, 507, r)
        self.assertEqual(r.json()["status"], 507)
        self.assertIn("retry-after", r.headers)
        self.assertEqual(s.wait_job(job)["state"], "completed")
        self.stop_clean()

    def test_full_disk_is_507_not_500(self):
        """Item 10: a disk that fills during the upload answers 507."""
        s = self.start("--min-free", "0")
        fill(self.mnt, 0)
        r = s.start_job(self.token)
        self.assertEqual(r.status, 507, r)
        self.stop_clean()

    def test_job_is_not_left_active_by_a_full_disk(self):
        """Item 3: the disk fills while a job runs; once space is back the
        job ends (completed after a retry), never stays active."""
        s = self.start("--min-free", "0", "--max-attempts", "10")
        r = s.start_job(self.token, SLOW, BIG)
        self.assertEqual(r.status, 200, r)
        job = r.json()["id"]
        s.wait_job(job, states=("active",), poll=0.01)
        filler = fill(self.mnt, 0)
        # Keep it full until the job's try has ended one way or the other.
        deadline = time.time() + 120
        while time.time() < deadline:
            st = s.status(job)
            if st.status == 200 and st.json()["state"] != "active":
                break
            if any(e.get("event") in ("job.store", "job.requeued", "job.failed")
                   for e in s.log_events()):
                break
            time.sleep(0.05)
        os.unlink(filler)
        self.assertEqual(s.wait_job(job, timeout=120)["state"], "completed")
        self.stop_clean()


if __name__ == "__main__":
    main()

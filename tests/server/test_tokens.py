"""The command line other tools depend on: `retouchd token ...` and the serving
flags and RETOUCHD_* variables."""
import os
import re
import subprocess
import unittest

from harness import RETOUCHD, Server, ServerTest, curl, main


class TokenCommands(unittest.TestCase):
    def setUp(self):
        self.server = Server()  # not started: the commands work on the data dir alone
        self.addCleanup(self.server.cleanup)

    def test_create_prints_the_token_alone_on_the_last_line(self):
        out = self.server.cli("token", "create", "--name", "studio A", "--daily-quota", "10",
                              "--credits", "100")
        lines = out.stdout.decode().splitlines()
        self.assertRegex(lines[-1], r"^rt_[A-Za-z0-9_-]{43}$")
        self.assertIn("studio A", out.stdout.decode())
        second = self.server.cli("token", "create", "--name", "b").stdout.decode().splitlines()
        self.assertNotEqual(second[-1], lines[-1])
        # The store keeps hashes only: the token is nowhere in the database.
        with open(os.path.join(self.server.data, "retouchd.db"), "rb") as f:
            db = f.read()
        wal = os.path.join(self.server.data, "retouchd.db-wal")
        if os.path.exists(wal):
            with open(wal, "rb") as f:
                db += f.read()
        self.assertNotIn(lines[-1].encode(), db)
        self.assertNotIn(lines[-1][3:].encode(), db)

    def test_list_set_revoke(self):
        token = self.server.cli("token", "create", "--name", "lab").stdout.decode().split()[-1]
        listing = self.server.cli("token", "list").stdout.decode()
        self.assertIn("lab", listing)
        self.assertIn(token[:9] + "...", listing)
        self.assertNotIn(token, listing)
        out = self.server.cli("token", "set", token, "--credits", "5", "--daily-quota", "2")
        self.assertIn("credits: 5", out.stdout.decode())
        self.assertIn("daily quota: 2", out.stdout.decode())
        # Options first and the token last works too; the name works as TOKEN.
        out = self.server.cli("token", "set", "--credits", "unlimited", "lab")
        self.assertIn("credits: unlimited", out.stdout.decode())
        out = self.server.cli("token", "revoke", token)
        self.assertIn("revoked", out.stdout.decode())
        self.assertRegex(self.server.cli("token", "list").stdout.decode(), r"lab .* revoked")

    def test_usage_errors(self):
        for args in (["token"], ["token", "create"], ["token", "create", "--name", "x",
                                                      "--credits", "lots"],
                     ["token", "frobnicate"], ["token", "set", "nobody"],
                     ["serve-now"], ["--workers", "0"], ["--no-such-flag"]):
            out = self.server.cli(*args, check=False)
            self.assertEqual(out.returncode, 2, (args, out.stderr))
            self.assertTrue(out.stderr.strip(), args)
        out = self.server.cli("token", "revoke", "rt_unknown", check=False)
        self.assertEqual(out.returncode, 1)
        self.assertIn("no token", out.stderr.decode())
        self.server.cli("token", "create", "--name", "twin")
        self.server.cli("token", "create", "--name", "twin")
        out = self.server.cli("token", "revoke", "twin", check=False)
        self.assertEqual(out.returncode, 1)
        self.assertIn("2 tokens", out.stderr.decode())
        help_out = subprocess.run([RETOUCHD, "--help"], capture_output=True)
        self.assertEqual(help_out.returncode, 0)
        for word in ("--data-dir", "--listen", "--workers", "RETOUCHD_LISTEN", "token create"):
            self.assertIn(word, help_out.stdout.decode())


class Environment(ServerTest):
    """RETOUCHD_* variables configure the server like the flags do."""
    server_env = {"RETOUCHD_MAX_UPLOAD": "123K", "RETOUCHD_RETENTION": "2h",
                  "RETOUCHD_MAX_MEGAPIXELS": "7"}

    def test_variables_apply_and_flags_win(self):
        limits = curl(self.server.url("/api/v1/info/limits")).json()
        self.assertEqual(limits["maxUploadBytes"], 123 * 1024)
        self.assertEqual(limits["retentionSeconds"], 7200)
        self.assertEqual(limits["maxMegapixels"], 7)
        self.stop_clean()
        self.server.args += ["--max-upload", "1M"]
        self.server.start()
        limits = curl(self.server.url("/api/v1/info/limits")).json()
        self.assertEqual(limits["maxUploadBytes"], 1 << 20)

    def test_one_server_per_data_dir(self):
        out = subprocess.run([RETOUCHD, "--data-dir", self.server.data, "--listen",
                              "127.0.0.1:0"], capture_output=True, env=self.server.env,
                             timeout=120)
        self.assertEqual(out.returncode, 1)
        self.assertIn("another retouchd already serves", out.stderr.decode())
        # Token commands still work beside the running server.
        self.server.cli("token", "list")

    def test_bad_variable_is_a_usage_error(self):
        env = dict(os.environ, RETOUCHD_WORKERS="zero")
        out = subprocess.run([RETOUCHD, "--data-dir", self.server.data, "token", "list"],
                             capture_output=True, env=env)
        self.assertEqual(out.returncode, 2)
        self.assertIn("RETOUCHD_WORKERS", out.stderr.decode())

    def test_logs_are_json_lines_with_job_ids(self):
        r = self.server.start_job(self.token)
        job_id = r.json()["id"]
        self.server.wait_job(job_id)
        self.stop_clean()
        events = self.server.log_events()
        lines = [l for l in self.server.log().splitlines() if l.strip()]
        self.assertEqual(len(events), len(lines), "every log line is one JSON object")
        for e in events:
            self.assertRegex(e["ts"], r"^\d{4}-\d\d-\d\dT[\d:.]+Z$")
            self.assertIn(e["level"], ("debug", "info", "warn", "error"))
        names = [e["event"] for e in events if e.get("job") == job_id]
        for name in ("job.accepted", "job.started", "job.completed", "http.request"):
            self.assertIn(name, names)
        self.assertIn("server.stopped", [e["event"] for e in events])


if __name__ == "__main__":
    main()

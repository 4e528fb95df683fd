// A Node.js client of the retouch API, written the way an integrator would:
// built-in fetch (undici) with FormData and Blob, polling, then download.
// usage: node client_node.mjs BASE_URL TOKEN IMAGE PAYLOAD OUT
import { readFile, writeFile } from "node:fs/promises";
import { basename } from "node:path";

const [base, token, image, payload, out] = process.argv.slice(2);

const form = new FormData();
form.append("token", token);
form.append("payload", payload);
form.append("file", new Blob([await readFile(image)], { type: "image/jpeg" }), basename(image));

const started = await fetch(`${base}/api/v1/retoucher/start`, { method: "POST", body: form });
const job = await started.json();
if (started.status !== 200) {
  console.error("start failed", started.status, job);
  process.exit(1);
}

const deadline = Date.now() + 300000;
let status;
for (;;) {
  const r = await fetch(`${base}/api/v1/retoucher/status/${job.id}`);
  status = await r.json();
  if (status.state === "completed" || status.state === "failed") break;
  if (Date.now() > deadline) {
    console.error("timed out", status);
    process.exit(1);
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
}
if (status.state !== "completed") {
  console.error("job failed", status);
  process.exit(1);
}

const file = await fetch(`${base}/api/v1/retoucher/getFile/${job.id}`);
const bytes = Buffer.from(await file.arrayBuffer());
await writeFile(out, bytes);
console.log(JSON.stringify({
  id: job.id,
  quota: job.retouchQuota,
  status: file.status,
  type: file.headers.get("content-type"),
  disposition: file.headers.get("content-disposition"),
  bytes: bytes.length,
}));

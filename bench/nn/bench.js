// Model latency: the C runtime against TensorFlow.js's WASM backend, same
// inputs, same run.  Prints one JSON document with per-model milliseconds and
// the ratio C / WASM (below 1: the C runtime is faster).
//
//   node bench.js NN_BENCH_BINARY [--runs N]
//
// (bench/nn/run installs the pinned npm packages and calls this.)
//
// The C benchmark runs first and writes its inputs; each model then runs in
// TensorFlow.js on those floats: 3 warm-up runs, N timed runs of execute()
// plus reading every output back (as the C runtime copies its outputs).
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const tf = require('@tensorflow/tfjs-core');
const wasm = require('@tensorflow/tfjs-backend-wasm');
const tfconv = require('@tensorflow/tfjs-converter');

async function loadModel(jsonPath) {
  const json = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
  const dir = path.dirname(jsonPath);
  const specs = [];
  const buffers = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) buffers.push(fs.readFileSync(path.join(dir, p)));
  }
  const all = Buffer.concat(buffers);
  return tfconv.loadGraphModel(tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: specs,
    weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
    format: json.format,
    signature: json.signature,
    userDefinedMetadata: json.userDefinedMetadata,
  }));
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main() {
  const args = process.argv.slice(2);
  const binary = args[0];
  const runsAt = args.indexOf('--runs');
  const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 30;
  if (!binary) throw new Error('usage: node bench.js NN_BENCH_BINARY [--runs N]');

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nn-bench-'));
  const runC = (extraEnv) => JSON.parse(execFileSync(binary, ['--runs', String(runs), '--inputs', tmp],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...extraEnv } }));
  const c = runC({});
  // Also one thread, since the WASM backend here runs on one.
  const c1 = runC({ OMP_NUM_THREADS: '1' });

  const wasmDir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '');
  wasm.setWasmPaths(`${wasmDir}${path.sep}`);
  await tf.setBackend('wasm');
  await tf.ready();
  const modelsDir = process.env.RT_MODELS_DIR || path.join(__dirname, '..', '..', 'models');

  const results = [];
  for (const m of c.models) {
    const model = await loadModel(path.join(modelsDir, m.file));
    const b = fs.readFileSync(path.join(tmp, `${m.name}.input.bin`));
    const input = tf.tensor(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)), m.input);
    const once = () => {
      let outs = model.execute(input);
      if (!Array.isArray(outs)) outs = [outs];
      outs.forEach((t) => t.dataSync());
      tf.dispose(outs);
    };
    for (let i = 0; i < 3; i++) once();
    const times = [];
    for (let i = 0; i < runs; i++) {
      const t0 = process.hrtime.bigint();
      once();
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    input.dispose();
    model.dispose();
    const wasmMs = median(times);
    const single = c1.models.find((x) => x.name === m.name).ms_median;
    results.push({
      name: m.name,
      input: m.input,
      c_ms: m.ms_median,
      wasm_ms: Number(wasmMs.toFixed(3)),
      ratio_c_over_wasm: Number((m.ms_median / wasmMs).toFixed(3)),
      c_ms_1thread: single,
      ratio_1thread: Number((single / wasmMs).toFixed(3)),
    });
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  const out = {
    benchmark: 'nn model latency, C runtime vs TensorFlow.js WASM (median ms)',
    cpu: os.cpus()[0].model,
    cores: os.cpus().length,
    c_threads: c.threads,
    wasm_threads: wasm.getThreadsCount(),
    tfjs: tf.version_core,
    runs,
    models: results,
  };
  // One line per model keeps the document readable.
  const text = JSON.stringify({ ...out, models: [] }, null, 2).replace(
    '"models": []', `"models": [\n${results.map((r) => `    ${JSON.stringify(r)}`).join(',\n')}\n  ]`);
  console.log(text);
}

main().catch((err) => {
  console.error(`bench.js: ${err.stack || err}`);
  process.exit(1);
});

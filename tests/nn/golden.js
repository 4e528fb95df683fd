// Reference outputs of the models from TensorFlow.js (CPU backend).
//
//   node golden.js DIR
//
// Reads DIR/cases.json and the input files written by `nn_golden
// --write-inputs DIR`, runs each model with tfjs-converter on the same input,
// and writes DIR/<model>.<case>.ref.bin: the outputs listed in cases.json,
// float32, one after another.  DIR/refs.ok marks a complete run.
'use strict';

const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const tfconv = require('@tensorflow/tfjs-converter');

// A graph model from model.json and its shards, without fetch().
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
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const handler = tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: specs,
    weightData,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
    signature: json.signature,
    userDefinedMetadata: json.userDefinedMetadata,
  });
  return tfconv.loadGraphModel(handler);
}

function readFloats(file) {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

async function main() {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: node golden.js DIR');
  await tf.setBackend('cpu');
  const { models_dir: modelsDir, cases } = JSON.parse(
    fs.readFileSync(path.join(dir, 'cases.json'), 'utf8'));
  fs.rmSync(path.join(dir, 'refs.ok'), { force: true });
  const models = {};
  for (const c of cases) {
    if (!models[c.file]) models[c.file] = await loadModel(path.join(modelsDir, c.file));
    const model = models[c.file];
    const input = tf.tensor(readFloats(path.join(dir, `${c.model}.${c.case}.input.bin`)), c.shape);
    const names = c.outputs.map((o) => o.name);
    let outs = model.execute({ [c.input]: input }, names);
    if (!Array.isArray(outs)) outs = [outs];
    const parts = [];
    outs.forEach((t, i) => {
      const want = c.outputs[i].shape;
      if (t.size !== want.reduce((a, b) => a * b, 1)) {
        throw new Error(`${c.model} ${names[i]}: TF.js shape ${t.shape}, C runtime ${want}`);
      }
      parts.push(Buffer.from(t.dataSync().buffer));
    });
    fs.writeFileSync(path.join(dir, `${c.model}.${c.case}.ref.bin`), Buffer.concat(parts));
    tf.dispose([input, ...outs]);
  }
  fs.writeFileSync(path.join(dir, 'refs.ok'), `${cases.length} cases\n`);
  console.log(`golden.js: ${cases.length} reference cases from tfjs ${tf.version_core}`);
}

main().catch((err) => {
  console.error(`golden.js: ${err.stack || err}`);
  process.exit(1);
});

// Calls Status (and optionally StepDown) on a director's operator API with grpc-js: a client
// from another stack than the director's. Prints the reply as JSON, or the error code and text.
// Usage: node status.js PROTO HOST:PORT [--ca F --cert F --key F] [--step-down]
'use strict';
const fs = require('fs');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const [protoPath, target, ...rest] = process.argv.slice(2);
const opts = {};
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === '--step-down') opts.stepDown = true;
  else opts[rest[i].replace(/^--/, '')] = rest[++i];
}
const def = protoLoader.loadSync(protoPath, { keepCase: true, longs: String, defaults: true });
const v1 = grpc.loadPackageDefinition(def).quorate.v1;
const creds = opts.ca
  ? grpc.credentials.createSsl(fs.readFileSync(opts.ca),
      opts.key ? fs.readFileSync(opts.key) : null,
      opts.cert ? fs.readFileSync(opts.cert) : null)
  : grpc.credentials.createInsecure();
const client = new v1.Director(target, creds);
const deadline = new Date(Date.now() + 5000);
const done = (err, reply) => {
  if (err) {
    console.log(JSON.stringify({ ok: false, code: grpc.status[err.code], details: err.details }));
    process.exit(1);
  }
  console.log(JSON.stringify({ ok: true, reply }));
  process.exit(0);
};
if (opts.stepDown) client.StepDown({}, { deadline }, done);
else client.Status({}, { deadline }, done);

// Opens N WatchStatus streams on a director's operator API and never reads them (paused), then
// reports how many the director admitted and refused. For the RSS measurement in
// docs/security.md. Usage: node watch_flood.js PROTO TARGET N [HOLD_MS]
'use strict';
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const [protoPath, target, nText, holdText] = process.argv.slice(2);
const n = Number(nText);
const holdMs = Number(holdText || 5000);
const def = protoLoader.loadSync(protoPath, { keepCase: true, longs: String, defaults: true });
const v1 = grpc.loadPackageDefinition(def).quorate.v1;
// Several channels, as several clients would: one connection caps streams per connection.
const channels = [];
for (let i = 0; i < 16; i++) {
  channels.push(new v1.Director(target, grpc.credentials.createInsecure(),
    { 'grpc.use_local_subchannel_pool': 1 }));
}
let refused = 0;
let other = 0;
let open = 0;
for (let i = 0; i < n; i++) {
  const call = channels[i % channels.length].WatchStatus({});
  let first = true;
  call.on('data', () => {
    if (first) { open++; first = false; call.pause(); }
  });
  call.on('error', (e) => {
    if (e.code === grpc.status.RESOURCE_EXHAUSTED) refused++;
    else if (e.code !== grpc.status.CANCELLED) other++;
  });
}
setTimeout(() => {
  console.log(JSON.stringify({ asked: n, open, refused, other }));
  process.exit(0);
}, holdMs);

// An IMAP client that waits in IDLE, with Node's imapflow (a client no one here wrote).
//
// Usage: node idle.mjs PORT USER PASSWORD COUNT [CA_FILE]
// With CA_FILE the connection is upgraded with STARTTLS and the server's
// certificate is verified against that authority.
//
// Prints one JSON object a line: {"event": "ready", "exists": N, "idling": true} once
// INBOX is open and the client idles, {"event": "exists", "count": N} each time
// the server announces new mail while idling, and after COUNT announcements
// {"event": "done", "subjects": [...], "sizes": [...], "sources": [...]}
// (sources base64, as fetched with BODY[]), then it logs out.
import { readFileSync } from "node:fs";
import { ImapFlow } from "imapflow";

const [port, user, password, count, caFile] = process.argv.slice(2);
const expected = Number(count);
const say = (object) => process.stdout.write(`${JSON.stringify(object)}\n`);

const client = new ImapFlow({
  host: "127.0.0.1",
  port: Number(port),
  secure: false,
  doSTARTTLS: caFile ? true : false,
  tls: caFile ? { ca: [readFileSync(caFile)] } : undefined,
  auth: { user, pass: password },
  logger: false,
});

let announced = 0;
let finished = null;
const allArrived = new Promise((resolve) => {
  finished = resolve;
});

client.on("exists", (data) => {
  announced += 1;
  say({ event: "exists", count: data.count });
  if (announced >= expected) finished();
});

const timer = setTimeout(() => {
  say({ event: "timeout", announced });
  process.exit(2);
}, 30000);

await client.connect();
const mailbox = await client.mailboxOpen("INBOX");
// Idle now (imapflow would only after a pause), and report ready once the server
// has accepted IDLE, so that every announcement is an IDLE wake-up.
client.idle().catch(() => {});
for (let waited = 0; !client.idling && waited < 5000; waited += 5) {
  await new Promise((resolve) => setTimeout(resolve, 5));
}
say({ event: "ready", exists: mailbox.exists, idling: client.idling });
await allArrived;
clearTimeout(timer);

const subjects = [];
const sizes = [];
const sources = [];
for await (const message of client.fetch("1:*", { envelope: true, size: true, source: true })) {
  subjects.push(message.envelope.subject);
  sizes.push(message.size);
  sources.push(message.source.toString("base64"));
}
say({ event: "done", subjects, sizes, sources, secure: client.secureConnection });
await client.logout();

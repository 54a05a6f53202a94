// nodemailer's smtp-server as a peer, driven like serve.py: prints "PORT <n>",
// then answers "count", "reset", "rss" on stdin; end of input stops it.
// Installed by run.py with: npm install --prefix benchmarks/node smtp-server
"use strict";
const path = require("path");
const readline = require("readline");
const { SMTPServer } = require(path.join(__dirname, "node", "node_modules", "smtp-server"));

const messages = [];
const server = new SMTPServer({
  authOptional: true,
  disableReverseLookup: true, // no DNS: the peer at its fastest
  logger: false,
  size: 32 * 1024 * 1024,
  onData(stream, session, callback) {
    const chunks = [];
    stream.on("data", (chunk) => chunks.push(chunk));
    stream.on("end", () => {
      messages.push(Buffer.concat(chunks)); // stores each message, as the mock does
      callback();
    });
  },
});
server.on("error", (error) => console.error(error.message));
server.listen(0, "127.0.0.1", () => {
  console.log(`PORT ${server.server.address().port}`);
  const input = readline.createInterface({ input: process.stdin });
  input.on("line", (line) => {
    const command = line.trim();
    if (command === "count") console.log(messages.length);
    else if (command === "reset") { messages.length = 0; console.log("ok"); }
    else if (command === "rss") console.log(process.memoryUsage().rss);
    else console.log(`unknown command ${command}`);
  });
  input.on("close", () => server.close(() => process.exit(0)));
});

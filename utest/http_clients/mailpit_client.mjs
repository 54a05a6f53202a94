// Drives the npm `mailpit-api` client (written for Mailpit, not for us) against
// `smtpmock --http`, checking every answer with node:assert.
//
//   node mailpit_client.mjs BASE_URL [USER:PASSWORD]
//
// The Python test has sent two messages by SMTP before this starts: "Welcome
// Alice" (text) and "Invoice 42" (HTML and a CSV attachment, X-Tags: billing).
// When this prints {"step":"waiting"}, the Python test sends "Late arrival".
// Each finished step is printed as one JSON line; the last is {"step":"done"}.
import assert from "node:assert/strict";
import { MailpitClient } from "mailpit-api";

const [base, credentials] = process.argv.slice(2);
const options = credentials
  ? { auth: { username: credentials.split(":")[0], password: credentials.split(":").slice(1).join(":") } }
  : undefined;
const mailpit = new MailpitClient(base, options);
const done = (step, data = {}) => console.log(JSON.stringify({ step, ...data }));

const info = await mailpit.getInfo();
assert.equal(info.Messages, 2);
assert.match(info.Version, /^smtpmock /);
done("getInfo");

const config = await mailpit.getConfiguration();
assert.equal(config.MessageRelay.Enabled, false);
done("getConfiguration");

const list = await mailpit.listMessages();
assert.equal(list.total, 2);
assert.equal(list.messages_count, 2);
assert.equal(list.unread, 2);
assert.deepEqual(list.messages.map((m) => m.Subject), ["Invoice 42", "Welcome Alice"]);
assert.equal(list.messages[0].Attachments, 1);
assert.deepEqual(list.messages[0].Tags, ["billing"]);
const page = await mailpit.listMessages(1, 1);
assert.deepEqual(page.messages.map((m) => m.Subject), ["Welcome Alice"]);
done("listMessages");

const found = await mailpit.searchMessages({ query: 'to:bob subject:"Invoice 42"' });
assert.equal(found.messages_count, 1);
assert.equal(found.messages[0].To[0].Address, "bob@example.com");
const none = await mailpit.searchMessages({ query: "from:nobody" });
assert.equal(none.messages_count, 0);
done("searchMessages");

const summary = await mailpit.getMessageSummary();  // "latest"
assert.equal(summary.Subject, "Invoice 42");
assert.equal(summary.From.Address, "billing@shop.example");
assert.match(summary.HTML, /<h1>Invoice 42<\/h1>/);
assert.equal(summary.Attachments.length, 1);
const attachment = summary.Attachments[0];
assert.equal(attachment.FileName, "invoice.csv");
done("getMessageSummary", { ID: summary.ID });

const unread = await mailpit.searchMessages({ query: "is:unread" });
assert.deepEqual(unread.messages.map((m) => m.Subject), ["Welcome Alice"]);
done("readByGetMessageSummary");

const blob = await mailpit.getMessageAttachment(summary.ID, attachment.PartID);
assert.equal(blob.type, "text/csv");
assert.equal((await blob.text()).replace(/\r\n/g, "\n"), "item,amount\nwidget,42\n");
done("getMessageAttachment");

const source = await mailpit.getMessageSource(summary.ID);
assert.match(source, /^From: billing@shop\.example\r?$/m);
assert.match(source, /Subject: Invoice 42/);
done("getMessageSource");

const headers = await mailpit.getMessageHeaders(summary.ID);
assert.deepEqual(headers.Subject, ["Invoice 42"]);
assert.deepEqual(headers["X-Tags"], ["billing"]);
assert.deepEqual(Object.keys(headers), Object.keys(headers).sort());
done("getMessageHeaders");

assert.match(await mailpit.renderMessageHTML(summary.ID), /<h1>Invoice 42<\/h1>/);
assert.match(await mailpit.renderMessageText(list.messages[1].ID), /Hello Alice/);
done("renderMessage");

assert.deepEqual(await mailpit.getTags(), ["billing"]);
await mailpit.setTags({ IDs: [list.messages[1].ID], Tags: ["welcome"] });
assert.deepEqual(await mailpit.getTags(), ["billing", "welcome"]);
await mailpit.renameTag("welcome", "onboarding");
await mailpit.deleteTag("billing");
assert.deepEqual(await mailpit.getTags(), ["onboarding"]);
done("tags");

await mailpit.setReadStatus({ Read: true });
assert.equal((await mailpit.listMessages()).unread, 0);
await mailpit.setReadStatus({ IDs: [summary.ID], Read: false });
assert.equal((await mailpit.listMessages()).unread, 1);
done("setReadStatus");

const triggers = await mailpit.setChaosTriggers({ Recipient: { ErrorCode: 451, Probability: 0 } });
assert.deepEqual(triggers.Recipient, { ErrorCode: 451, Probability: 0 });
assert.deepEqual((await mailpit.getChaosTriggers()).Sender, { ErrorCode: 451, Probability: 0 });
done("chaos");

const sent = await mailpit.sendMessage({
  From: { Email: "api@example.test", Name: "API" },
  To: [{ Email: "carol@example.test" }],
  Subject: "Sent over HTTP",
  Text: "Hello from the send API",
});
const sentMessage = await mailpit.getMessageSummary(sent.ID);
assert.equal(sentMessage.Subject, "Sent over HTTP");
done("sendMessage", { ID: sent.ID });

// waitForMessage polls searchMessages; the Python test sends the mail now.
done("waiting");
const late = await mailpit.waitForMessage({ query: "subject:Late" }, { timeout: 10000, interval: 100 });
assert.equal(late.Subject, "Late arrival");
const all = await mailpit.waitForMessages({ count: 4 }, { timeout: 5000, interval: 100 });
assert.equal(all.messages_count, 4);
const exact = await mailpit.waitForMessages({ query: "to:bob", count: 1, exact: true }, { timeout: 2000 });
assert.equal(exact.messages_count, 1);
await assert.rejects(
  mailpit.waitForMessage({ query: "subject:never" }, { timeout: 300, interval: 100 }),
  /Timeout waiting for messages matching query "subject:never"/,
);
done("waitForMessage");

await assert.rejects(mailpit.getMessageSummary("424242"), /Mailpit API Error: 404/);
done("unknownId");

await mailpit.deleteMessages({ IDs: [sent.ID] });
assert.equal((await mailpit.listMessages()).total, 3);
await mailpit.deleteMessagesBySearch({ query: "subject:Late" });
assert.equal((await mailpit.listMessages()).total, 2);
await mailpit.deleteMessages();
assert.equal((await mailpit.listMessages()).total, 0);
done("deleteMessages");

done("done");

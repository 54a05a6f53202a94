// The smtpmock web viewer. Every piece of e-mail content goes into the page as
// text (textContent), never as markup; the HTML body is shown only in a
// sandboxed iframe whose document the server sends with a policy that forbids
// scripts and remote loads.
"use strict";

const state = { query: "", selected: null, remoteImages: false, tab: "html" };
const $ = (id) => document.getElementById(id);

async function api(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).Error || detail; } catch (_) { /* not JSON */ }
    throw new Error(`${response.status}: ${detail}`);
  }
  const type = response.headers.get("Content-Type") || "";
  return type.startsWith("application/json") ? response.json() : response.text();
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function addressText(address) {
  if (!address || !address.Address) return "";
  return address.Name ? `${address.Name} <${address.Address}>` : address.Address;
}

function status(text) { $("status").textContent = text; }

async function loadList() {
  const path = state.query
    ? `/api/v1/search?query=${encodeURIComponent(state.query)}&limit=200`
    : "/api/v1/messages?limit=200";
  let data;
  try {
    data = await api(path);
  } catch (error) {
    status(`Could not load messages (${error.message})`);
    return;
  }
  const list = $("messages");
  list.replaceChildren(...data.messages.map(listItem));
  const shown = state.query ? `${data.messages_count} found, ` : "";
  $("count").textContent = `${shown}${data.total} message(s), ${data.unread} unread`;
  $("empty").hidden = data.total > 0;
}

function listItem(summary) {
  const item = element("li");
  item.dataset.id = summary.ID;
  item.tabIndex = 0;
  item.setAttribute("role", "option");
  item.setAttribute("aria-selected", String(summary.ID === state.selected));
  if (!summary.Read) item.classList.add("unread");
  const top = element("div", "line");
  top.append(element("span", "from", addressText(summary.From) || "(no sender)"));
  const time = element("time", "", new Date(summary.Created).toLocaleTimeString());
  time.dateTime = summary.Created;
  top.append(time);
  item.append(top, element("div", "subject", summary.Subject || "(no subject)"),
    element("div", "snippet", summary.Snippet));
  item.addEventListener("click", () => openMessage(summary.ID));
  item.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") openMessage(summary.ID);
  });
  return item;
}

async function openMessage(id) {
  let message;
  try {
    message = await api(`/api/v1/message/${encodeURIComponent(id)}`);
  } catch (error) {
    status(`Could not open message ${id} (${error.message})`);
    return;
  }
  state.selected = message.ID;
  state.remoteImages = false;
  for (const item of $("messages").children) {
    const chosen = item.dataset.id === message.ID;
    item.setAttribute("aria-selected", String(chosen));
    if (chosen) item.classList.remove("unread");
  }
  $("message").hidden = false;
  $("subject").textContent = message.Subject || "(no subject)";
  const rows = [
    ["From", addressText(message.From)],
    ["To", message.To.map(addressText).join(", ")],
    ["Cc", message.Cc.map(addressText).join(", ")],
    ["Bcc", message.Bcc.map(addressText).join(", ")],
    ["Reply-To", message.ReplyTo.map(addressText).join(", ")],
    ["Date", new Date(message.Date).toLocaleString()],
    ["Tags", message.Tags.join(", ")],
    ["Size", `${message.Size} bytes`],
  ].filter(([, value]) => value);
  $("summary").tBodies[0].replaceChildren(...rows.map(([name, value]) => row(name, value)));
  showAttachments(message);
  $("text").textContent = message.Text || "(no text body)";
  $("no-html").hidden = Boolean(message.HTML);
  $("html-frame").hidden = !message.HTML;
  $("remote-images").hidden = !message.HTML;
  showFrame();
  $("raw-download").href = `/api/v1/message/${encodeURIComponent(message.ID)}/raw?dl=1`;
  $("raw").textContent = "";
  $("headers").tBodies[0].replaceChildren();
  selectTab(message.HTML ? state.tab : (state.tab === "html" ? "text" : state.tab));
}

function row(name, value) {
  const tr = element("tr");
  tr.append(element("th", "", name), element("td", "", value));
  return tr;
}

function showAttachments(message) {
  const files = [...message.Attachments, ...message.Inline];
  $("attachments-box").hidden = files.length === 0;
  $("attachments").replaceChildren(...files.map((file) => {
    const item = element("li");
    const link = element("a", "", file.FileName || file.ContentID || file.PartID);
    link.href = `/api/v1/message/${encodeURIComponent(message.ID)}/part/${encodeURIComponent(file.PartID)}`;
    link.download = file.FileName || `part-${file.PartID}`;
    item.append(link, document.createTextNode(` (${file.ContentType}, ${file.Size} bytes)`));
    return item;
  }));
}

function showFrame() {
  if (!state.selected) return;
  const remote = state.remoteImages ? "?remote_images=1" : "";
  $("html-frame").src = `/view/${encodeURIComponent(state.selected)}.html${remote}`;
}

async function selectTab(name) {
  state.tab = name;
  for (const button of $("tabs").children) {
    button.setAttribute("aria-selected", String(button.dataset.tab === name));
  }
  for (const tab of ["html", "text", "headers", "raw"]) $(`panel-${tab}`).hidden = tab !== name;
  const id = state.selected;
  try {
    if (name === "headers" && !$("headers").tBodies[0].children.length) {
      const headers = await api(`/api/v1/message/${encodeURIComponent(id)}/headers`);
      const rows = Object.entries(headers).flatMap(([key, values]) => values.map((v) => row(key, v)));
      $("headers").tBodies[0].replaceChildren(...rows);
    } else if (name === "raw" && !$("raw").textContent) {
      $("raw").textContent = await api(`/api/v1/message/${encodeURIComponent(id)}/raw`);
    }
  } catch (error) {
    status(`Could not load ${name} (${error.message})`);
  }
}

function listen() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/api/events`);
  socket.addEventListener("open", () => status("Live: new mail appears here at once."));
  socket.addEventListener("message", (event) => {
    const { Type } = JSON.parse(event.data);
    if (["new", "delete", "truncate", "prune"].includes(Type)) loadList();
  });
  socket.addEventListener("close", () => {
    status("Live updates lost; reconnecting...");
    setTimeout(() => { loadList(); listen(); }, 2000);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.query = $("search").value.trim();
    loadList();
  });
  $("clear-search").addEventListener("click", () => {
    $("search").value = "";
    state.query = "";
    loadList();
  });
  $("remote-images").addEventListener("click", () => {
    state.remoteImages = true;
    showFrame();
  });
  for (const button of $("tabs").children) {
    button.addEventListener("click", () => selectTab(button.dataset.tab));
  }
  loadList();
  listen();
});

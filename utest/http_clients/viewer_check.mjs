// Checks the web viewer of `smtpmock --http` in headless Chromium (Debian's,
// driven by playwright-core), in the light and the dark theme:
//   - the page's elements are there and a message opens with its parts;
//   - a new message appears without a reload;
//   - a hostile message runs no script and makes no request that leaves the
//     page (every request the page makes is counted by origin);
//   - every text has a contrast of at least 4.5:1 against its background,
//     measured from computed colours.
//
//   node viewer_check.mjs BASE_URL HOSTILE_ID [USER:PASSWORD]
//
// With USER:PASSWORD the browser logs in with HTTP Basic authentication, as a
// person would at the browser's prompt (live updates included).
//
// Prints one JSON line per step. On {"step":"send-new"} the Python test sends a
// message with the subject "Live <theme>" and answers by writing a line to stdin.
import assert from "node:assert/strict";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const [base, hostileId, credentials] = process.argv.slice(2);
const httpCredentials = credentials
  ? { username: credentials.split(":")[0], password: credentials.split(":").slice(1).join(":") }
  : undefined;
const origin = new URL(base).origin;
const print = (step, data = {}) => console.log(JSON.stringify({ step, ...data }));
// Waits until `condition()` holds, for events counted in this script.
async function until(condition, what, timeout = 10000) {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
const lines = createInterface({ input: process.stdin });
const input = lines[Symbol.asyncIterator]();

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});

try {
  for (const theme of ["light", "dark"]) {
    const context = await browser.newContext({
      colorScheme: theme, viewport: { width: 1200, height: 900 }, httpCredentials,
    });
    const page = await context.newPage();
    // Chromium reports a request the policy blocks as a request that then
    // failed with "csp": those are counted apart, as stopped before leaving.
    const leaving = [];
    const blocked = [];
    const dialogs = [];
    const elsewhere = (request) => {
      const url = request.url();
      return !url.startsWith("data:") && !url.startsWith("about:") && new URL(url).origin !== origin;
    };
    page.on("request", (request) => { if (elsewhere(request)) leaving.push(request); });
    page.on("requestfailed", (request) => {
      if (elsewhere(request) && request.failure()?.errorText === "csp") {
        leaving.splice(leaving.indexOf(request), 1);
        blocked.push(request.url());
      }
    });
    page.on("dialog", async (dialog) => { dialogs.push(dialog.message()); await dialog.dismiss(); });

    await page.goto(base + "/");
    await page.waitForSelector("#messages li");
    for (const id of ["search", "messages", "count", "tabs", "html-frame", "raw", "headers"]) {
      assert.equal(await page.locator(`#${id}`).count(), 1, `#${id} is missing`);
    }
    const csp = (await page.request.get(base + "/")).headers()["content-security-policy"];
    assert.match(csp, /default-src 'none'/);
    print("elements", { theme });

    // A new message appears without a reload.
    await page.evaluate(() => { window.notReloaded = true; });
    const before = await page.locator("#messages li").count();
    print("send-new", { theme });
    await input.next();
    await page.locator("#messages li", { hasText: `Live ${theme}` }).waitFor({ timeout: 10000 });
    assert.equal(await page.locator("#messages li").count(), before + 1);
    assert.equal(await page.evaluate(() => window.notReloaded), true);
    print("live", { theme });

    // Search narrows the list.
    await page.fill("#search", `subject:"Live ${theme}"`);
    await page.click("#search-form button[type=submit]");
    await page.waitForFunction(() => document.querySelectorAll("#messages li").length === 1);
    await page.click("#clear-search");
    await page.waitForFunction((n) => document.querySelectorAll("#messages li").length === n, before + 1);
    print("search", { theme });

    // The hostile message: its subject, text and HTML try to run script and
    // to fetch from elsewhere.
    await page.click(`#messages li[data-id="${hostileId}"]`);
    await page.waitForSelector("#message:not([hidden])");
    const frame = page.locator("#html-frame");
    assert.equal(await frame.getAttribute("sandbox"), "");
    await page.waitForFunction(() => {
      const f = document.getElementById("html-frame");
      return f.src.includes(".html") && f.contentDocument === null;  // opaque origin
    });
    // The body tries eight loads; each is reported blocked (or, were the
    // policy broken, made). Then give stragglers a moment.
    await until(() => blocked.length + leaving.length >= 8, "the hostile body's loads");
    await page.waitForTimeout(300);
    const htmlLeaks = leaving.length;
    assert.equal(await page.locator("#subject").textContent(), "<img src=x onerror=alert(1)> Hello");
    assert.equal(await page.evaluate(() => window.pwned), undefined);
    assert.match(await page.locator("#attachments a").first().getAttribute("href"), /\/part\//);
    await page.click("#tab-text");
    assert.match(await page.locator("#text").textContent(), /<script>alert\("text"\)<\/script>/);
    await page.click("#tab-headers");
    await page.waitForSelector("#headers tr");
    await page.click("#tab-raw");
    await page.waitForFunction(() => document.getElementById("raw").textContent.includes("Subject:"));
    await page.click("#tab-html");
    assert.equal(dialogs.length, 0, `dialogs opened: ${dialogs}`);
    assert.equal(htmlLeaks, 0, `requests left the page: ${leaving.map((r) => r.url())}`);
    print("hostile", { theme, requestsLeaving: htmlLeaks, blockedByPolicy: blocked.length, dialogs: dialogs.length });

    // Contrast of every text, with a message open and selected.
    const ratios = await page.evaluate(measureContrast);
    const worst = ratios.reduce((a, b) => (a.ratio < b.ratio ? a : b));
    print("contrast", { theme, checked: ratios.length, minimum: worst.ratio, worst });
    await page.screenshot({ path: `${process.env.SCREENSHOTS || "/tmp"}/viewer-${theme}.png` });

    // Remote images only on request: then the counter sees them, which
    // proves that it counts.
    await page.click("#remote-images");
    await until(() => leaving.length > 0, "remote images to be requested");
    await page.waitForTimeout(300);
    print("remote-images", { theme, requestsLeaving: leaving.length });
    await context.close();
  }
} finally {
  await browser.close();
  lines.close();
}
print("done");

// Runs in the page: the contrast ratio of each element's own text.
function measureContrast() {
  const parse = (color) => {
    const m = color.match(/rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)/);
    if (!m) throw new Error(`Unreadable colour ${color}`);
    return [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])];
  };
  const luminance = ([r, g, b]) => {
    const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  const over = (top, bottom) => {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat(1);
  };
  const background = (element) => {
    const layers = [];
    for (let node = element; node; node = node.parentElement) {
      const color = parse(getComputedStyle(node).backgroundColor);
      if (color[3] > 0) layers.push(color);
      if (color[3] === 1) break;
    }
    let result = [255, 255, 255, 1];  // the canvas, for a page without any background
    for (const layer of layers.reverse()) result = over(layer, result);
    return result;
  };
  const ratio = (a, b) => {
    const [l1, l2] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (l1 + 0.05) / (l2 + 0.05);
  };
  const results = [];
  for (const element of document.querySelectorAll("body *")) {
    const style = getComputedStyle(element);
    if (style.visibility === "hidden" || element.closest("[hidden]") || !element.getClientRects().length) continue;
    const ownText = [...element.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const bg = background(element);
    const describe = `${element.tagName.toLowerCase()}${element.id ? "#" + element.id : ""}${element.className ? "." + element.className : ""}`;
    if (ownText) {
      const fg = over(parse(style.color), bg);
      results.push({ element: describe, ratio: Math.round(ratio(fg, bg) * 100) / 100, color: style.color, background: `rgb(${bg.slice(0, 3).join(", ")})` });
    }
    if (element.matches("input[placeholder]") && !element.value) {
      const fg = over(parse(getComputedStyle(element, "::placeholder").color), bg);
      results.push({ element: describe + "::placeholder", ratio: Math.round(ratio(fg, bg) * 100) / 100, color: getComputedStyle(element, "::placeholder").color, background: `rgb(${bg.slice(0, 3).join(", ")})` });
    }
  }
  return results;
}

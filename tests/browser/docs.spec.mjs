// Drives the example server's Swagger UI (`GET /docs`) in headless Chromium with playwright-core:
// Authorize with the demo account (the OAuth2 password flow), "Try it out" on GET /me (200 with
// the demo user's `sub`), log out in the dialog, Execute again (401). A screenshot per step goes
// to $ARTIFACTS. Any request leaving 127.0.0.1 is refused and fails the test.
//
// Started by tests/browser/run.sh, which builds and starts the server; by hand:
//   BASE_URL=http://127.0.0.1:3000 DEMO_USER=demo DEMO_PASSWORD=… node tests/browser/docs.spec.mjs

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = required("BASE_URL");
const user = process.env.DEMO_USER || "demo";
const password = required("DEMO_PASSWORD");
const artifacts = process.env.ARTIFACTS || "target/browser-artifacts";
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const TIMEOUT = 30_000;

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set`);
    process.exit(2);
  }
  return value;
}

mkdirSync(artifacts, { recursive: true });
const shots = [];
const outside = [];
const tokenRequests = [];
let passed = 0;
let failed = 0;

function check(condition, what) {
  if (condition) {
    passed += 1;
    console.log(`ok - ${what}`);
  } else {
    failed += 1;
    console.log(`not ok - ${what}`);
  }
  return condition;
}

function local(url) {
  const { protocol, hostname } = new URL(url);
  return protocol === "data:" || protocol === "blob:" || hostname === "127.0.0.1";
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  timeout: TIMEOUT,
});
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(TIMEOUT);
  // Nothing may leave this machine: a CDN font, a validator badge, a telemetry ping.
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (local(url)) {
      return route.continue();
    }
    outside.push(url);
    return route.abort("blockedbyclient");
  });
  context.on("request", (request) => {
    if (request.url().startsWith(`${base}/login`)) {
      tokenRequests.push({
        body: request.postData() || "",
        contentType: request.headers()["content-type"] || "",
      });
    }
  });
  page = await context.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error)));

  async function shot(name) {
    const path = join(artifacts, `${name}.png`);
    await page.screenshot({ path, fullPage: false });
    shots.push(path);
  }

  // 1. The page, rendered from this server's document.
  await page.goto(`${base}/docs`, { waitUntil: "networkidle" });
  await page.locator(".swagger-ui .info .title").waitFor();
  const title = await page.locator(".swagger-ui .info .title").innerText();
  check(title.includes("tower-jwt-auth example server"), `/docs shows the document (${title.split("\n")[0]})`);
  await shot("01-docs");

  // 2. Authorize: the password flow with the demo account, client_id left empty.
  const dialog = page.locator(".dialog-ux .modal-ux");
  await page.locator(".auth-wrapper button.authorize").click();
  await dialog.waitFor();
  const oauth2 = dialog.locator(".auth-container").filter({ hasText: "(OAuth2, password)" });
  await oauth2.locator("#oauth_username").fill(user);
  await oauth2.locator("#oauth_password").fill(password);
  check((await oauth2.locator("#client_id_password").inputValue()) === "", "client_id is left empty");
  await oauth2.locator("button.authorize").click();
  const logout = oauth2.locator("button", { hasText: "Logout" });
  await logout.waitFor();
  check(await logout.isVisible(), "the dialog says authorized");
  await shot("02-authorized");
  await dialog.locator("button.btn-done, button.close-modal").first().click();
  await dialog.waitFor({ state: "detached" });

  const login = tokenRequests.at(-1);
  check(
    login !== undefined &&
      login.contentType.startsWith("application/x-www-form-urlencoded") &&
      new URLSearchParams(login.body).get("grant_type") === "password",
    "the dialog posted the password grant as a form",
  );

  // 3. Try it out on GET /me: 200 and the demo user's claims.
  const me = page.locator(".opblock-get").filter({
    has: page.locator('.opblock-summary-path[data-path="/me"]'),
  });
  await me.locator(".opblock-summary").click();
  await me.locator("button.try-out__btn").click();
  const execute = me.locator("button.execute");
  await execute.click();
  const status = me.locator(".live-responses-table .response .response-col_status");
  await status.first().waitFor();
  const first = (await status.first().innerText()).trim();
  const body = await me.locator(".live-responses-table .response-col_description pre").first().innerText();
  check(first === "200", `GET /me answered ${first}`);
  let sub;
  try {
    sub = JSON.parse(body).sub;
  } catch {
    sub = undefined;
  }
  check(sub === user, `the response pane shows sub ${JSON.stringify(sub)}`);
  await me.scrollIntoViewIfNeeded();
  await shot("03-me-200");

  // 4. Log out in the dialog, execute again: 401.
  await page.locator(".auth-wrapper button.authorize").click();
  await dialog.waitFor();
  await dialog.locator("button", { hasText: "Logout" }).first().click();
  await oauth2.locator("#oauth_username").waitFor();
  await dialog.locator("button.close-modal").first().click();
  await dialog.waitFor({ state: "detached" });
  await me.locator("button.btn-clear").click().catch(() => {});
  await me.locator("button.execute").click();
  await status.first().waitFor();
  const second = (await status.first().innerText()).trim();
  check(second === "401", `after logout, GET /me answered ${second}`);
  await me.scrollIntoViewIfNeeded();
  await shot("04-me-401");

  check(errors.length === 0, `no script error on the page${errors.length ? `: ${errors.join("; ")}` : ""}`);
} catch (error) {
  failed += 1;
  console.log(`not ok - ${error.stack || error}`);
  if (page) {
    const path = join(artifacts, "failure.png");
    await page.screenshot({ path }).catch(() => {});
    shots.push(path);
  }
} finally {
  await browser.close();
}

check(outside.length === 0, `no request left 127.0.0.1${outside.length ? `: ${outside.join(", ")}` : ""}`);
console.log("screenshots:");
for (const path of shots) {
  console.log(`  ${path}`);
}
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);

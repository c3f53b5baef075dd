// Opens the keywarden serve dashboard in Debian's chromium (driven by playwright-core; never a
// downloaded browser) and checks that hostile values from the logs render inert.
//
// Environment: KW_URL (http://127.0.0.1:PORT), KW_KEY (an API key), KW_PAYLOADS (a JSON array
// of strings that must be visible as text on the pages), KW_PAGES (a JSON array of paths).
// Exit status 0 when every check passes; otherwise every failed check is printed.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const base = process.env.KW_URL;
const key = process.env.KW_KEY;
const payloads = JSON.parse(process.env.KW_PAYLOADS || '[]');
const pages = JSON.parse(process.env.KW_PAGES || '["/"]');
const failures = [];
const fail = (m) => { failures.push(m); console.error('FAIL: ' + m); };

const profile = mkdtempSync(join(tmpdir(), 'kw-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = context.pages()[0] ?? await context.newPage();
  const dialogs = [];
  page.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss(); });
  // Any request that leaves this origin is an injection that worked (or a CDN we must not use).
  const foreign = [];
  page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('data:')) foreign.push(r.url()); });

  const login = await page.goto(base + '/login');
  if (!login.headers()['content-security-policy']) fail('no CSP on the login page');
  await page.fill('input[name=key]', key);
  await Promise.all([page.waitForURL(base + '/'), page.click('button[type=submit]')]);

  for (const path of pages) {
    const resp = await page.goto(base + path);
    if (resp.status() !== 200) fail(`${path}: status ${resp.status()}`);
    const csp = resp.headers()['content-security-policy'] || '';
    for (const d of ["default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"]) {
      if (!csp.includes(d)) fail(`${path}: CSP lacks ${d}: ${csp}`);
    }
    // Open every <details> so the evidence is rendered too.
    await page.locator('details').evaluateAll((ds) => ds.forEach((d) => { d.open = true; }));
    const injected = await page.evaluate(() => ({
      scripts: document.querySelectorAll('script').length,
      imgs: document.querySelectorAll('img').length,
      handlers: [...document.querySelectorAll('*')].filter((e) =>
        [...e.attributes].some((a) => a.name.startsWith('on'))).length,
      iframes: document.querySelectorAll('iframe, object, embed').length,
    }));
    for (const [what, n] of Object.entries(injected)) {
      if (n !== 0) fail(`${path}: ${n} injected ${what}`);
    }
    const text = await page.evaluate(() => document.body.innerText);
    for (const p of payloads) {
      if (!text.includes(p)) fail(`${path}: payload not visible as text: ${p}`);
    }
    console.log(`checked ${path}: ${JSON.stringify(injected)}, ${text.length} chars of text`);
  }
  await page.waitForTimeout(300);
  if (dialogs.length) fail('dialogs fired: ' + JSON.stringify(dialogs));
  if (foreign.length) fail('requests left the origin: ' + JSON.stringify(foreign));
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
if (failures.length) {
  console.error(`${failures.length} browser check(s) failed`);
  process.exit(1);
}
console.log('browser checks passed');

// SPDX-License-Identifier: Apache-2.0
// A real browser through mod_rtsession: Debian's chromium driven by playwright-core.
//   node flow.mjs config.json
// config: { protected_url, api_url, out_dir, spki, user, password, expire_wait_ms,
//           parallel, logout_url (or null) }
// Prints one JSON object: what each step saw (statuses, user names, counts, booleans; never a
// token or cookie value). Screenshots go to out_dir. Keeps chromium off the network: only
// the loopback servers of the test are visited, background services are switched off.
import { chromium } from 'playwright-core';
import { mkdtempSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const STEP_TIMEOUT = 30000;
const result = { steps: [] };

const flags = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  // trust exactly the test server's key (httpd and the OP share it), nothing else
  `--ignore-certificate-errors-spki-list=${cfg.spki}`,
];

function step(name, data) {
  result.steps.push({ name, ...data });
}

async function shot(page, n, name) {
  await page.screenshot({ path: join(cfg.out_dir, `${n}-${name}.png`), fullPage: true });
}

// The first response of the navigation that produced `response` (the redirect chain).
function chain(response) {
  const out = [];
  let req = response ? response.request() : null;
  while (req) {
    out.unshift(req.url());
    req = req.redirectedFrom();
  }
  return out;
}

async function echoed(page) {
  const text = await page.evaluate(() => document.body.innerText);
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

async function atLoginForm(page) {
  return (await page.locator('input[name="username"]').count()) > 0
      && (await page.locator('input[name="password"]').count()) > 0;
}

async function main() {
  mkdirSync(cfg.out_dir, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'rts-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, args: flags,
    viewport: { width: 1000, height: 700 }, timeout: STEP_TIMEOUT,
  });
  try {
    const page = ctx.pages()[0] || await ctx.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT);

    // 1. a protected page sends the browser to the provider's login form
    let resp = await page.goto(cfg.protected_url);
    let hops = chain(resp);
    step('login_page', {
      login_form: await atLoginForm(page),
      redirected_to_op: hops.length > 1 && hops[1].includes('/auth?'),
      first_url_is_protected: hops[0] === cfg.protected_url,
    });
    await shot(page, '01', 'login-page');

    // 2. credentials typed into the form; back on the original page with the identity
    await page.fill('input[name="username"]', cfg.user);
    await page.fill('input[name="password"]', cfg.password);
    await Promise.all([
      page.waitForURL(cfg.protected_url, { waitUntil: 'load' }),
      page.click('button[type="submit"], input[type="submit"]'),
    ]);
    let body = await echoed(page);
    const firstToken = body && body.headers ? body.headers['x-access-token'] || '' : '';
    step('logged_in', {
      url_is_protected: page.url() === cfg.protected_url,
      path: body ? body.path : null,
      user: body && body.headers ? body.headers['x-remote-user'] || null : null,
      email: body && body.headers ? body.headers['x-remote-email'] || null : null,
      has_access_token: firstToken.length > 0,
    });
    // the page as the echo backend answered it, with token and cookie values blanked
    await page.evaluate(() => {
      const o = JSON.parse(document.body.innerText);
      for (const k of Object.keys(o.headers || {})) {
        if (/token|cookie|authorization/i.test(k)) o.headers[k] = '[redacted]';
      }
      delete o.cookies;
      delete o.header_list;
      document.body.innerText = JSON.stringify(o, null, 2);
    });
    await shot(page, '02', 'logged-in');

    // 3. the access token expires; 30 parallel fetch() calls all succeed
    await page.waitForTimeout(cfg.expire_wait_ms);
    const started = Date.now();
    const fetched = await page.evaluate(async ({ url, n, before }) => {
      const calls = [];
      for (let i = 0; i < n; i++) {
        calls.push(fetch(`${url}/${i}`, { credentials: 'same-origin' }).then(async (r) => {
          let token = null;
          try {
            token = (await r.json()).headers['x-access-token'] || null;
          } catch { /* not the echo JSON */ }
          return { status: r.status, token };
        }));
      }
      const res = await Promise.all(calls);
      const tokens = new Set(res.map((x) => x.token));
      const statuses = res.map((x) => x.status);
      document.body.innerText = `${n} parallel fetch() calls: statuses ${[...new Set(statuses)].join(',')}; `
        + `${tokens.size} distinct access token(s), renewed: ${!tokens.has(before)}`;
      return { statuses, distinct_tokens: tokens.size, renewed: !tokens.has(before),
               all_tokens_present: res.every((x) => x.token) };
    }, { url: cfg.api_url, n: cfg.parallel, before: firstToken });
    step('parallel_fetch', { ...fetched, elapsed_ms: Date.now() - started });
    await shot(page, '03', 'parallel-fetch');

    // 4. logout, when the module has it
    if (cfg.logout_url) {
      resp = await page.goto(cfg.logout_url);
      // the provider may ask to confirm the end of its own session (oidc-provider does)
      const confirm = page.locator('button[name="logout"][value="yes"], button[value="yes"]');
      let confirmed = false;
      if (await confirm.count() > 0) {
        await Promise.all([page.waitForLoadState('load'), confirm.first().click()]);
        await page.waitForLoadState('load');
        confirmed = true;
      }
      step('logout', { status: resp ? resp.status() : null, provider_confirmed: confirmed,
                       chain_hosts: chain(resp).map((u) => new URL(u).host) });
      await shot(page, '04', 'logged-out');

      // 5. the protected page asks to log in again
      resp = await page.goto(cfg.protected_url);
      hops = chain(resp);
      body = await echoed(page);
      step('login_again', {
        login_form: await atLoginForm(page),
        redirected_to_op: hops.length > 1 && hops[1].includes('/auth?'),
        backend_reached: !!(body && body.path),
      });
      await shot(page, '05', 'login-again');
    }
  } finally {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

main().then(() => {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}, (err) => {
  // no query strings in the report: they may hold a code or a state
  result.error = String(err && err.message ? err.message : err)
    .replace(/\?[^\s"']*/g, '?...').slice(0, 2000);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exitCode = 1;
});

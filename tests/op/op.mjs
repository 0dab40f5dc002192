// SPDX-License-Identifier: Apache-2.0
// Test OpenID Provider for mod_rtsession's integration tests and demo.
//
//   node tests/op/op.mjs <config.json> [--cert FILE] [--key FILE]
//
// Built on `oidc-provider` (npm, OpenID Certified). HTTPS on 127.0.0.1, issuer
// https://127.0.0.1:<port>. The JSON config gives port, cert/key (or --cert/--key,
// or env RTS_OP_CERT / RTS_OP_KEY), clients and token lifetimes; see README.md here.
//
// Endpoints that tests use (besides discovery):
//   /auth, /token, /me (userinfo: "GET /me" with "Authorization: Bearer <at>" answers
//   200 while the access token is valid, 401 invalid_token once it is expired/revoked),
//   /token/introspection, /token/revocation, /session/end, /jwks
//   /interaction/<uid>            our login form (GET), POST .../login with username/password
//   /admin/...                    test control, loopback only (see handleAdmin below)
//
// Refresh-token reuse (verified by tests/integration/test_010_op.py): with
// rotateRefreshToken returning true, every refresh consumes the presented refresh token
// and returns a new one. Presenting a consumed token makes the stock package
// (lib/actions/grants/refresh_token.js) destroy it, revoke the whole grant
// (helpers/revoke.js: revokeByGrantId on AccessToken, RefreshToken, AuthorizationCode,
// then Grant.destroy, emitting grant.revoked) and answer invalid_grant ("refresh token
// already used"). So the newest refresh token and all access tokens of the grant stop
// working too. No extension is needed here; we only count it.

import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

// ---------- configuration ----------

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: { cert: { type: 'string' }, key: { type: 'string' } },
});
if (positionals.length !== 1) {
  console.error('usage: node op.mjs <config.json> [--cert FILE] [--key FILE]');
  process.exit(2);
}
const config = JSON.parse(fs.readFileSync(positionals[0], 'utf8'));
const host = config.host || '127.0.0.1';
const port = Number(config.port);
const certFile = flags.cert || process.env.RTS_OP_CERT || config.cert;
const keyFile = flags.key || process.env.RTS_OP_KEY || config.key;
if (!port || !certFile || !keyFile) {
  console.error('op: config needs port, and cert/key from flags, env or config');
  process.exit(2);
}
const issuer = `https://${host}:${port}`;

// Mutable at runtime through POST /admin/settings; the TTL functions read them.
const settings = {
  access_token_ttl: config.access_token_ttl ?? 60,
  id_token_ttl: config.id_token_ttl ?? 60,
  refresh_token_ttl: config.refresh_token_ttl ?? 14 * 24 * 3600,
  token_delay_ms: 0, // stall before the token endpoint processes the request
  token_delay_after_ms: 0, // stall after processing (token already rotated), before answering
  token_down: false, // false | "503" | "drop"
};

// Opt-in heavy mode (both off by default; see README.md):
//   access_token_format "jwt": every access token is an RS256 JWT (typ at+jwt) for one resource
//     server (resource indicator RESOURCE, defaulted and reused on refresh), carrying the user's
//     groups; the stock OP issues opaque ones.
//   heavy_user_groups N > 0: a user "heavy" with N long group names (in the ID token through
//     scope profile, like every user's groups).
const accessTokenFormat = config.access_token_format ?? 'opaque';
const heavyGroups = config.heavy_user_groups ?? 0;
if (!['opaque', 'jwt'].includes(accessTokenFormat)) {
  console.error('op: access_token_format must be "opaque" or "jwt"');
  process.exit(2);
}
if (!(Number.isInteger(heavyGroups) && heavyGroups >= 0 && heavyGroups <= 1000)) {
  console.error('op: heavy_user_groups must be an integer from 0 to 1000');
  process.exit(2);
}
const RESOURCE = 'urn:rts-test:backend';
// the scopes the client requests, so the JWT's scope claim mirrors the grant
const RESOURCE_SCOPE = 'openid profile email offline_access';

// ---------- demo users ----------

const USERS = {
  alice: {
    password: 'wonderland',
    sub: 'alice-6f1c2b',
    claims: {
      email: 'alice@example.test', email_verified: true, name: 'Alice Liddell', groups: ['staff', 'readers'],
    },
  },
  bob: {
    password: 'builder',
    sub: 'bob-93d0aa',
    claims: {
      email: 'bob@example.test', email_verified: true, name: 'Bob Builder', groups: ['builders'],
    },
  },
};
if (heavyGroups > 0) {
  USERS.heavy = {
    password: 'heavy-session',
    sub: 'heavy-0d5e71',
    claims: {
      email: 'heavy.groups@example.test',
      email_verified: true,
      name: 'Heavy Groups',
      groups: Array.from({ length: heavyGroups }, (_, i) => {
        const n = String(i + 1).padStart(2, '0');
        return `/org/department-${n}/team-${n}-members`;
      }),
    },
  };
}
const USERS_BY_SUB = Object.fromEntries(Object.values(USERS).map((u) => [u.sub, u]));
const DEMO_USERS = new Set(Object.keys(USERS));   // POST /admin/users adds others, never these

// ---------- counters and token log ----------

const COUNTER_NAMES = [
  'authorization_requests', 'authorization_code_grants', 'refresh_grants', 'grant_errors',
  'authorization_code_grant_errors', 'refresh_grant_errors', 'invalid_grant', 'refresh_token_reuse',
  'grants_revoked', 'token_requests', 'token_requests_refused', 'userinfo', 'userinfo_errors',
  'logins', 'login_failures', 'server_errors', 'revocations', 'revocations_ok', 'end_sessions',
  'backchannel_logouts', 'backchannel_errors',
];
let counters;
function resetCounters() {
  counters = Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0]));
}
resetCounters();
const TOKEN_LOG_MAX = 1000;
let tokenLog = [];
let tokenSeq = 0;

const sha12 = (v) => crypto.createHash('sha256').update(String(v)).digest('hex').slice(0, 12);
const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });
const log = (...args) => console.log(new Date().toISOString(), ...args);

// grant_id -> account id, so /admin/revoke-grants can revoke per user.
const grantsByAccount = new Map();

// ---------- provider ----------

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingJwk = { ...privateKey.export({ format: 'jwk' }), kid: sha12(Date.now()), use: 'sig', alg: 'RS256' };

const clients = (config.clients || []).map((c) => ({
  client_id: c.client_id,
  client_secret: c.client_secret,
  token_endpoint_auth_method: c.token_endpoint_auth_method || 'client_secret_basic',
  redirect_uris: c.redirect_uris,
  post_logout_redirect_uris: c.post_logout_redirect_uris || [],
  ...(c.backchannel_logout_uri ? {
    backchannel_logout_uri: c.backchannel_logout_uri, backchannel_logout_session_required: true,
  } : {}),
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  scope: 'openid profile email offline_access',
}));

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingJwk] },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'groups'],
  },
  // The module reads identity from the ID token; put the granted claims there too
  // (the default, true, keeps them for userinfo only in the code flow).
  conformIdTokenClaims: false,
  // Exact expiry: tests use TTLs of a few seconds (the default tolerance is 15 s).
  clockTolerance: 0,
  responseTypes: ['code'],
  pkce: { required: () => true },
  // A refresh token for every code grant of a client allowed to refresh, with or
  // without offline_access (which oidc-provider drops unless prompt=consent).
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: () => true,
  // Refresh tokens live on after the OP's browser session ends.
  expiresWithSession: async () => false,
  ttl: {
    AccessToken: () => settings.access_token_ttl,
    IdToken: () => settings.id_token_ttl,
    RefreshToken: () => settings.refresh_token_ttl,
    AuthorizationCode: 60,
    Interaction: 600,
    Session: 3600,
    Grant: 14 * 24 * 3600,
  },
  features: {
    devInteractions: { enabled: false },
    userinfo: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    // with a client backchannel_logout_uri, ID tokens carry sid; the OP POSTs logout tokens
    // there when its session ends (tests also sign their own through /admin/sign)
    backchannelLogout: { enabled: true },
    ...(accessTokenFormat === 'jwt' ? {
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => RESOURCE,
        // also at the token endpoint and on refresh (else openid scope -> opaque, userinfo only)
        useGrantedResource: async () => true,
        async getResourceServerInfo(ctx, indicator) {
          if (indicator !== RESOURCE) throw new errors.InvalidTarget();
          return { scope: RESOURCE_SCOPE, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
        },
      },
    } : {}),
  },
  ...(accessTokenFormat === 'jwt' ? {
    // the user's groups in the JWT access token (ttl.AccessToken still decides its exp)
    async extraTokenClaims(ctx, token) {
      const user = USERS_BY_SUB[token.accountId];
      return token.kind === 'AccessToken' && user ? { groups: user.claims.groups } : undefined;
    },
  } : {}),
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  // Outgoing requests (back-channel logout deliveries) go to the test RP on loopback, which
  // oidc-provider's SSRF guard refuses: drop its dispatcher. Test OP only. The RP's test CA is
  // trusted through NODE_EXTRA_CA_CERTS (set by the harness).
  fetch: (url, options) => {
    const { dispatcher, ...rest } = options; // eslint-disable-line no-unused-vars
    return fetch(url, rest);
  },
  async findAccount(ctx, sub) {
    const user = USERS_BY_SUB[sub];
    if (!user) return undefined;
    return { accountId: sub, claims: async () => ({ sub, ...user.claims }) };
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html><title>OP error</title><h1>OP error</h1><pre>${
      htmlEscape(JSON.stringify(out, null, 2))}</pre>`;
  },
});

provider.on('authorization.accepted', () => { counters.authorization_requests += 1; });
provider.on('grant.success', (ctx) => {
  const gt = ctx.oidc.params?.grant_type;
  if (gt === 'authorization_code') counters.authorization_code_grants += 1;
  if (gt === 'refresh_token') counters.refresh_grants += 1;
});
provider.on('grant.error', (ctx, err) => {
  const gt = ctx.oidc?.params?.grant_type;
  counters.grant_errors += 1;
  if (gt === 'authorization_code') counters.authorization_code_grant_errors += 1;
  if (gt === 'refresh_token') counters.refresh_grant_errors += 1;
  if (err.error === 'invalid_grant') counters.invalid_grant += 1;
  if (err.error_detail === 'refresh token already used') counters.refresh_token_reuse += 1;
  ctx.rtsError = err; // for the token log
  log('grant.error', gt, err.error, err.error_detail || '');
});
provider.on('grant.revoked', (ctx, grantId) => {
  counters.grants_revoked += 1;
  log('grant.revoked', sha12(grantId));
});
provider.on('userinfo.error', () => { counters.userinfo_errors += 1; });
// the OP's own back-channel logout deliveries (to the RP's backchannel_logout_uri)
provider.on('backchannel.success', (ctx, client) => {
  counters.backchannel_logouts += 1;
  log('backchannel.success', client.clientId);
});
provider.on('backchannel.error', (ctx, err, client) => {
  counters.backchannel_errors += 1;
  log('backchannel.error', client.clientId, err.message, err.cause ? String(err.cause.code || err.cause.message || err.cause) : '');
});
provider.on('server_error', (ctx, err) => { counters.server_errors += 1; log('server_error', err); });

// Token endpoint: count, log, and apply the fault settings. Runs before the route,
// so the request body is not parsed yet; the provider parses it inside next().
provider.use(async (ctx, next) => {
  if (ctx.path === '/me') counters.userinfo += 1;
  if (ctx.path === '/session/end') counters.end_sessions += 1;
  if (ctx.path === '/token/revocation' && ctx.method === 'POST') {
    counters.revocations += 1;
    await next();
    if (ctx.status === 200) counters.revocations_ok += 1;
    return;
  }
  if (ctx.path !== '/token' || ctx.method !== 'POST') {
    await next();
    return;
  }
  counters.token_requests += 1;
  const entry = {
    id: ++tokenSeq, grant_type: null, client_id: null, refresh_token_sha256_12: null,
    received: Date.now() / 1000, answered: null, status: null, error: null, error_detail: null,
    access_token_length: null, id_token_length: null, refresh_token_length: null,
  };
  tokenLog.push(entry);
  if (tokenLog.length > TOKEN_LOG_MAX) tokenLog = tokenLog.slice(-TOKEN_LOG_MAX);
  if (settings.token_down) {
    counters.token_requests_refused += 1;
    const body = await readBody(ctx.req);
    entry.grant_type = body.get('grant_type');
    entry.error = `token_down:${settings.token_down}`;
    entry.answered = Date.now() / 1000;
    if (settings.token_down === 'drop') {
      ctx.respond = false;
      ctx.req.socket.destroy();
      return;
    }
    ctx.status = 503;
    ctx.set('Retry-After', '1');
    ctx.body = { error: 'temporarily_unavailable', error_description: 'token endpoint down (test setting)' };
    return;
  }
  if (settings.token_delay_ms > 0) await sleep(settings.token_delay_ms);
  try {
    await next();
  } finally {
    const params = ctx.oidc?.params || {};
    entry.grant_type = params.grant_type || null;
    entry.client_id = ctx.oidc?.client?.clientId || null;
    if (params.refresh_token) entry.refresh_token_sha256_12 = sha12(params.refresh_token);
    if (ctx.status >= 400 && ctx.body && typeof ctx.body === 'object') {
      entry.error = ctx.body.error || null;
      entry.error_detail = ctx.rtsError?.error_detail || null;
    }
    if (ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
      // lengths of what was issued, never the values
      entry.access_token_length = ctx.body.access_token?.length ?? null;
      entry.id_token_length = ctx.body.id_token?.length ?? null;
      entry.refresh_token_length = ctx.body.refresh_token?.length ?? null;
    }
    if (settings.token_delay_after_ms > 0) await sleep(settings.token_delay_after_ms);
    entry.status = ctx.status;
    entry.answered = Date.now() / 1000;
  }
});

// ---------- helpers ----------

function htmlEscape(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  }[c]));
}

function readBody(req, limit = 64 * 1024) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      data += chunk;
      if (data.length > limit) reject(new Error('body too large'));
    });
    req.on('end', () => resolve(new URLSearchParams(data)));
    req.on('error', reject);
  });
}

async function readJson(req) {
  let text = '';
  req.setEncoding('utf8');
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 64 * 1024) throw new Error('body too large');
  }
  return text ? JSON.parse(text) : {};
}

function send(res, status, body, type = 'application/json') {
  const text = type === 'application/json' ? JSON.stringify(body) : body;
  res.writeHead(status, { 'Content-Type': `${type}; charset=utf-8`, 'Cache-Control': 'no-store' });
  res.end(text);
}

// ---------- login and consent (our interactions) ----------

function loginPage(uid, clientId, error) {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Sign in - test OP</title></head>
<body>
<h1>Sign in</h1>
<p>Client: <code>${htmlEscape(clientId)}</code></p>
${error ? `<p class="error" role="alert">${htmlEscape(error)}</p>` : ''}
<form method="post" action="/interaction/${htmlEscape(uid)}/login" autocomplete="off">
  <label>Username <input name="username" autofocus></label>
  <label>Password <input name="password" type="password"></label>
  <button type="submit">Sign in</button>
</form>
<p>Demo users: alice / wonderland, bob / builder${USERS.heavy ? ', heavy / heavy-session' : ''}</p>
</body></html>`;
}

// Grants every requested scope: consent is automatic in this test OP.
async function grantAll(details, accountId) {
  const { params, grantId, prompt } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId, clientId: params.client_id });
  grant.addOIDCScope(String(params.scope || 'openid'));
  const missingClaims = prompt?.details?.missingOIDCClaims;
  if (missingClaims) grant.addOIDCClaims(missingClaims);
  // resource indicators (only in access_token_format "jwt"): the requested scopes for each
  for (const resource of [params.resource ?? []].flat()) {
    grant.addResourceScope(resource, String(params.scope || 'openid'));
  }
  const id = await grant.save();
  grantsByAccount.set(id, accountId);
  return id;
}

async function handleInteraction(req, res, url) {
  const m = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (!m) return send(res, 404, { error: 'not_found' });
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (e) {
    return send(res, 400, `<p>Interaction expired or unknown: ${htmlEscape(e.message)}</p>`, 'text/html');
  }
  if (details.uid !== m[1]) return send(res, 400, { error: 'interaction mismatch' });
  const clientId = details.params.client_id;

  if (details.prompt.name === 'consent') {
    const grantId = await grantAll(details, details.session.accountId);
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  if (req.method === 'GET' && !m[2]) return send(res, 200, loginPage(details.uid, clientId), 'text/html');
  if (req.method !== 'POST' || !m[2]) return send(res, 405, { error: 'method_not_allowed' });

  const form = await readBody(req);
  const user = USERS[form.get('username') || ''];
  const password = form.get('password') || '';
  const ok = user && crypto.timingSafeEqual(sha256(password), sha256(user.password));
  if (!ok) {
    counters.login_failures += 1;
    return send(res, 200, loginPage(details.uid, clientId, 'Invalid username or password.'), 'text/html');
  }
  counters.logins += 1;
  log('login', user.sub, 'client', clientId);
  // Login and consent in one step, so the browser goes straight back to the client.
  const grantId = await grantAll(details, user.sub);
  return provider.interactionFinished(req, res, {
    login: { accountId: user.sub },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

const sha256 = (s) => crypto.createHash('sha256').update(s).digest();

// ---------- admin API (loopback only) ----------
//   GET  /admin/counters         -> {authorization_code_grants, refresh_grants, ...}
//   POST /admin/reset-counters   -> {} (also clears the token log)
//   GET  /admin/settings         -> current settings
//   POST /admin/settings {access_token_ttl, id_token_ttl, refresh_token_ttl,
//                         token_delay_ms, token_delay_after_ms, token_down: false|"503"|"drop"}
//   GET  /admin/token-log        -> [{id, grant_type, client_id, refresh_token_sha256_12,
//                                    received, answered, status, error, error_detail,
//                                    access_token_length, id_token_length, refresh_token_length}]
//   POST /admin/revoke-grants {sub?} -> {revoked: n}  (every grant, or those of one user)
//   GET  /admin/users            -> {alice: {sub, email, name, groups}, ...}
//   POST /admin/users {username, password, sub, claims?} -> {username, sub}  adds (or replaces)
//                                   a test user; its claims go out as the scopes allow
//   POST /admin/sign {claims, header?} -> {jwt}  signed RS256 with the OP's own key (for
//                                   back-channel logout tokens; header defaults to typ logout+jwt)

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

async function revokeGrant(grantId) {
  const models = [provider.AccessToken, provider.RefreshToken, provider.AuthorizationCode];
  await Promise.all(models.map((M) => M.adapter.revokeByGrantId(grantId)));
  await provider.Grant.adapter.destroy(grantId);
  grantsByAccount.delete(grantId);
}

async function handleAdmin(req, res, url) {
  if (!LOOPBACK.has(req.socket.remoteAddress)) return send(res, 403, { error: 'forbidden' });
  const route = `${req.method} ${url.pathname}`;
  switch (route) {
    case 'GET /admin/counters':
      return send(res, 200, counters);
    case 'POST /admin/reset-counters':
      resetCounters();
      tokenLog = [];
      return send(res, 200, {});
    case 'GET /admin/settings':
      return send(res, 200, settings);
    case 'POST /admin/settings': {
      const body = await readJson(req);
      for (const [k, v] of Object.entries(body)) {
        if (!(k in settings)) return send(res, 400, { error: `unknown setting ${k}` });
        if (k === 'token_down' && ![false, '503', 'drop'].includes(v)) {
          return send(res, 400, { error: 'token_down must be false, "503" or "drop"' });
        }
        if (k !== 'token_down' && !(Number.isInteger(v) && v >= 0)) {
          return send(res, 400, { error: `${k} must be a non-negative integer` });
        }
        settings[k] = v;
      }
      log('settings', JSON.stringify(settings));
      return send(res, 200, settings);
    }
    case 'GET /admin/token-log':
      return send(res, 200, tokenLog);
    case 'POST /admin/revoke-grants': {
      const { sub } = await readJson(req);
      const ids = [...grantsByAccount.entries()].filter(([, a]) => !sub || a === sub).map(([id]) => id);
      await Promise.all(ids.map(revokeGrant));
      counters.grants_revoked += ids.length;
      return send(res, 200, { revoked: ids.length });
    }
    case 'POST /admin/sign': {
      const { claims, header } = await readJson(req);
      const h = header || { alg: 'RS256', kid: signingJwk.kid, typ: 'logout+jwt' };
      const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const input = `${enc(h)}.${enc(claims)}`;
      const sig = crypto.sign('sha256', Buffer.from(input), privateKey).toString('base64url');
      return send(res, 200, { jwt: `${input}.${sig}` });
    }
    case 'GET /admin/users':
      return send(res, 200, Object.fromEntries(Object.entries(USERS).map(([n, u]) => [n, { sub: u.sub, ...u.claims }])));
    case 'POST /admin/users': {
      // a test user with chosen claims (e.g. a name with a line break); the demo users stay
      const { username, password, sub, claims } = await readJson(req);
      if (typeof username !== 'string' || !/^[a-z0-9-]{1,32}$/.test(username) || DEMO_USERS.has(username)
          || typeof password !== 'string' || typeof sub !== 'string' || !sub
          || (claims !== undefined && (typeof claims !== 'object' || claims === null))) {
        return send(res, 400, { error: 'expects {username (not a demo user), password, sub, claims?}' });
      }
      if (USERS[username]) delete USERS_BY_SUB[USERS[username].sub];
      USERS[username] = { password, sub, claims: claims || {} };
      USERS_BY_SUB[sub] = USERS[username];
      log('admin: user', username, 'set');
      return send(res, 200, { username, sub });
    }
    default:
      return send(res, 404, { error: 'not_found' });
  }
}

// ---------- server ----------

const providerCallback = provider.callback();
const server = https.createServer({
  cert: fs.readFileSync(certFile),
  key: fs.readFileSync(keyFile),
}, async (req, res) => {
  const started = Date.now();
  const url = new URL(req.url, issuer);
  res.on('finish', () => log(req.method, url.pathname, res.statusCode, `${Date.now() - started}ms`));
  try {
    if (url.pathname.startsWith('/admin/')) return await handleAdmin(req, res, url);
    if (url.pathname.startsWith('/interaction/')) return await handleInteraction(req, res, url);
    return await providerCallback(req, res);
  } catch (e) {
    log('handler error', e);
    if (!res.headersSent) send(res, 500, { error: 'server_error' });
    else res.destroy();
  }
  return undefined;
});
server.keepAliveTimeout = 5000;

server.listen(port, host, () => log(`op listening on ${issuer} with ${clients.length} client(s)`));

function shutdown(signal) {
  log(`op: ${signal}, shutting down`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

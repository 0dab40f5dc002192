// SPDX-License-Identifier: Apache-2.0
// A deliberately misbehaving OpenID Provider for mod_rtsession's security tests
// (tests/integration/test_600_hostile_op.py). One HTTPS server on loopback; what it does wrong
// is chosen per test with POST /admin/scenario {"name": "..."} (see SCENARIOS below).
//
//   node hostile_op.mjs --port N --cert server.pem --key server.key --client-id ID --secret S
//
// Endpoints: /.well-known/openid-configuration, /jwks, /authorize (redirects straight back to
// the redirect_uri: there is no user interaction), /token, /userinfo; admin: GET /admin/state
// (counters and the token request log), POST /admin/scenario, POST /admin/rotate (new signing
// key, the old one leaves the JWKS), POST /admin/refresh {"fault": F, "access_token_ttl": N}
// (see REFRESH_FAULTS), POST /admin/reset.
//
// Refresh: every refresh token it issued stays valid (no rotation checks, no reuse detection),
// so a test sees which one the module presents (token_log[].rt_index: the order of issue).
// A refresh fault spoils the FIRST refresh answer only, after the new tokens were issued (as a
// provider that rotated and then answered badly); later refreshes are answered correctly.
import { createServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
    return acc;
}, []));
const port = Number(args.port);
const issuer = `https://127.0.0.1:${port}`;
const clientId = args['client-id'];
const clientSecret = args.secret;

const b64u = (buf) => Buffer.from(buf).toString('base64url');
const rand = (n = 24) => randomBytes(n).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

// --- keys ---
async function makeKey(alg, kid, opts = {}) {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...opts });
    const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
    return { alg, kid, privateKey, jwk };
}
const keys = {
    rsa: await makeKey('RS256', 'rsa-1'),
    ec: await makeKey('ES256', 'ec-1'),
    ps: await makeKey('PS256', 'ps-1'),
    other: await makeKey('RS256', 'rsa-other'),
    rotated: null,       // set by /admin/rotate
    attacker: await makeKey('RS256', 'attacker'),
};
let rotatedGeneration = 0;

// --- state ---
let scenario = 'good';
let refreshFault = null;   // one-shot: the next refresh answer only
let accessTokenTtl = 600;
let refreshTokens;         // refresh token -> its index in the order of issue
let counters;
let tokenLog;
let issued;       // every code and token handed out: the tests check none reaches a log
const codes = new Map();   // code -> { nonce, redirect_uri, challenge, method, used }
function reset() {
    scenario = 'good';
    refreshFault = null;
    accessTokenTtl = 600;
    refreshTokens = new Map();
    counters = { discovery: 0, jwks: 0, authorize: 0, token: 0, userinfo: 0, refresh: 0 };
    tokenLog = [];
    issued = [];
    codes.clear();
}
reset();

// Every scenario the tests can pick. The value says what part misbehaves.
const SCENARIOS = new Set([
    'good', 'es256', 'ps256', 'kid_absent_single', 'kid_absent_multi', 'pkce_required',
    'userinfo_sub_mismatch',
    // ID token faults
    'bad_rs256_sig', 'bad_es256_sig', 'alg_none', 'hs256_unknown_secret', 'hs256_public_key',
    'wrong_iss', 'wrong_aud', 'missing_aud', 'expired', 'missing_exp', 'missing_iat',
    'missing_sub', 'wrong_nonce', 'missing_nonce', 'nbf_future', 'iat_future',
    'multi_aud_no_azp', 'wrong_azp', 'wrong_at_hash', 'typ_at_jwt', 'crit_unknown',
    'embedded_jwk', 'unknown_kid', 'alg_key_mismatch', 'sub_control_chars',
    // discovery / authorization response faults
    'discovery_issuer_mismatch', 'state_mismatch', 'state_missing', 'access_denied',
    'auth_wrong_iss', 'auth_iss_missing',
    // token endpoint faults
    'token_error', 'token_server_error', 'token_type_missing', 'token_type_unknown',
    'token_garbage', 'token_hang', 'id_token_missing', 'access_token_missing',
    'token_oversized', 'token_expires_in_string', 'at_jwt_huge_exp', 'token_redirect',
    'jwks_garbage', 'jwks_oversized', 'discovery_http_token_endpoint',
]);

// What the first refresh answer gets wrong: the ID token (the session must end: the refresh
// token was spent and the new tokens cannot be trusted) or the answer itself (unusable: the
// session is kept, the refresh tried again later).
const REFRESH_FAULTS = new Set([
    'id_wrong_iss', 'id_wrong_aud', 'id_wrong_sub', 'id_alg_none', 'id_bad_sig',
    'garbage', 'huge', 'token_type_wrong',
]);

// --- ID tokens ---
function idClaims(code) {
    const t = now();
    return {
        iss: issuer, sub: 'hostile-alice', aud: clientId, exp: t + 600, iat: t,
        nonce: code.nonce, email: 'alice@hostile.test', name: 'Alice Hostile',
    };
}

function atHash(accessToken, bits = 256) {
    const h = createHash(`sha${bits}`).update(accessToken).digest();
    return b64u(h.subarray(0, h.length / 2));
}

async function sign(claims, key, header = {}) {
    return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT',
                                                    ...header }).sign(key.privateKey);
}

// Signs any header as given, for headers jose itself refuses to produce (unknown crit).
async function rawSign(header, claims, key) {
    const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(claims))}`;
    const sig = await crypto.subtle.sign({ name: 'RSASSA-PKCS1-v1_5' }, key.privateKey,
                                         new TextEncoder().encode(input));
    return `${input}.${b64u(new Uint8Array(sig))}`;
}

function corrupt(jwt) {
    const [h, p, s] = jwt.split('.');
    const sig = Buffer.from(s, 'base64url');
    sig[Math.floor(sig.length / 2)] ^= 0x01;
    return `${h}.${p}.${b64u(sig)}`;
}

function unsigned(header, claims) {
    return `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(claims))}.`;
}

async function hmacJwt(claims, secret, kid) {
    return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid })
        .sign(secret);
}

async function idToken(code, accessToken) {
    const c = idClaims(code);
    const signing = keys.rotated || keys.rsa;
    switch (scenario) {
    case 'es256': return sign(c, keys.ec);
    case 'ps256': return sign(c, keys.ps);
    case 'kid_absent_single':
    case 'kid_absent_multi': return sign(c, keys.rsa, { kid: undefined });
    case 'bad_rs256_sig': return corrupt(await sign(c, signing));
    case 'bad_es256_sig': return corrupt(await sign(c, keys.ec));
    case 'alg_none': return unsigned({ alg: 'none', typ: 'JWT' }, c);
    case 'hs256_unknown_secret': return hmacJwt(c, randomBytes(32), keys.rsa.kid);
    case 'hs256_public_key':
        // the classic key confusion: HMAC keyed with the RSA public key's text
        return hmacJwt(c, new TextEncoder().encode(JSON.stringify(keys.rsa.jwk)), keys.rsa.kid);
    case 'wrong_iss': return sign({ ...c, iss: 'https://evil.example' }, signing);
    case 'wrong_aud': return sign({ ...c, aud: 'someone-else' }, signing);
    case 'missing_aud': { const { aud, ...rest } = c; return sign(rest, signing); }
    case 'expired': return sign({ ...c, exp: now() - 3600, iat: now() - 7200 }, signing);
    case 'missing_exp': { const { exp, ...rest } = c; return sign(rest, signing); }
    case 'missing_iat': { const { iat, ...rest } = c; return sign(rest, signing); }
    case 'missing_sub': { const { sub, ...rest } = c; return sign(rest, signing); }
    case 'sub_control_chars': return sign({ ...c, sub: 'alice\r\nX-Remote-User: admin' }, signing);
    case 'wrong_nonce': return sign({ ...c, nonce: rand() }, signing);
    case 'missing_nonce': { const { nonce, ...rest } = c; return sign(rest, signing); }
    case 'nbf_future': return sign({ ...c, nbf: now() + 3600 }, signing);
    case 'iat_future': return sign({ ...c, iat: now() + 3600 }, signing);
    case 'multi_aud_no_azp': return sign({ ...c, aud: [clientId, 'someone-else'] }, signing);
    case 'wrong_azp': return sign({ ...c, azp: 'someone-else' }, signing);
    case 'wrong_at_hash': return sign({ ...c, at_hash: atHash(accessToken + 'x') }, signing);
    case 'typ_at_jwt': return sign(c, signing, { typ: 'at+jwt' });
    case 'crit_unknown':
        return rawSign({ alg: 'RS256', kid: signing.kid, typ: 'JWT', crit: ['urn:example:unknown'],
                         'urn:example:unknown': true }, c, signing);
    case 'embedded_jwk':
        // signed by a key the provider never published, offered in the header itself
        return sign(c, keys.attacker, { kid: keys.rsa.kid, jwk: keys.attacker.jwk });
    case 'unknown_kid': return sign(c, keys.attacker);
    case 'alg_key_mismatch':
        // an ES256 signature that names the RSA key: the key's type must decide
        return sign(c, keys.ec, { kid: keys.rsa.kid });
    default: return sign({ ...c, at_hash: atHash(accessToken) }, signing);
    }
}

// Back-Channel Logout 1.0 §2.4 logout tokens for the subject of every ID token above, good or
// broken in one way (the tests POST them to the RP themselves).
const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
async function logoutToken(variant) {
    const signing = keys.rotated || keys.rsa;
    const c = { iss: issuer, aud: clientId, iat: now(), exp: now() + 120, jti: rand(),
                sub: 'hostile-alice', events: { [LOGOUT_EVENT]: {} } };
    const h = { typ: 'logout+jwt' };
    switch (variant) {
    case 'good': return sign(c, signing, h);
    case 'missing_events': { const { events, ...rest } = c; return sign(rest, signing, h); }
    case 'wrong_event': return sign({ ...c, events: { 'http://schemas.openid.net/event/other': {} } },
                                    signing, h);
    case 'events_not_object': return sign({ ...c, events: { [LOGOUT_EVENT]: 'yes' } }, signing, h);
    case 'nonce_present': return sign({ ...c, nonce: rand() }, signing, h);
    case 'wrong_aud': return sign({ ...c, aud: 'someone-else' }, signing, h);
    case 'wrong_iss': return sign({ ...c, iss: 'https://evil.example' }, signing, h);
    case 'bad_sig': return corrupt(await sign(c, signing, h));
    case 'alg_none': return unsigned({ alg: 'none', typ: 'logout+jwt' }, c);
    case 'hs256': return hmacJwt(c, randomBytes(32), signing.kid);
    case 'no_sub_no_sid': { const { sub, ...rest } = c; return sign(rest, signing, h); }
    case 'expired': return sign({ ...c, iat: now() - 7200, exp: now() - 3600 }, signing, h);
    case 'missing_iat': { const { iat, ...rest } = c; return sign(rest, signing, h); }
    case 'id_token_typ': return sign(c, signing, { typ: 'at+jwt' });
    default: throw new Error(`unknown logout token variant ${variant}`);
    }
}

function jwks() {
    switch (scenario) {
    case 'kid_absent_single': return { keys: [{ ...keys.rsa.jwk, kid: undefined }] };
    case 'kid_absent_multi':
        return { keys: [keys.other.jwk, { ...keys.rsa.jwk, kid: undefined }, keys.ec.jwk] };
    default:
        return { keys: [keys.rotated ? keys.rotated.jwk : keys.rsa.jwk, keys.ec.jwk, keys.ps.jwk] };
    }
}

// --- HTTP ---
function send(res, status, body, headers = {}) {
    const isJson = typeof body !== 'string';
    const text = isJson ? JSON.stringify(body) : body;
    res.writeHead(status, { 'Content-Type': isJson ? 'application/json' : 'text/plain',
                            'Cache-Control': 'no-store', ...headers });
    res.end(text);
}

function readBody(req) {
    return new Promise((resolve) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
}

function redirect(res, url) {
    res.writeHead(302, { Location: url, 'Cache-Control': 'no-store' });
    res.end();
}

function discovery() {
    return {
        issuer: scenario === 'discovery_issuer_mismatch' ? 'https://evil.example' : issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: scenario === 'discovery_http_token_endpoint'
            ? `http://127.0.0.1:${port}/token` : `${issuer}/token`,
        userinfo_endpoint: `${issuer}/userinfo`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256', 'PS256', 'ES256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic'],
        code_challenge_methods_supported: ['S256'],
        authorization_response_iss_parameter_supported: true,
    };
}

function authorize(res, url) {
    counters.authorize += 1;
    const q = url.searchParams;
    const back = new URL(q.get('redirect_uri'));
    const state = q.get('state');
    const iss = scenario === 'auth_wrong_iss' ? 'https://evil.example' : issuer;
    if (scenario !== 'auth_iss_missing') back.searchParams.set('iss', iss);
    if (scenario === 'access_denied') {
        back.searchParams.set('error', 'access_denied');
        back.searchParams.set('error_description', 'the user said no');
        back.searchParams.set('state', state);
        return redirect(res, back.toString());
    }
    const code = rand();
    codes.set(code, { nonce: q.get('nonce'), redirect_uri: q.get('redirect_uri'),
                      challenge: q.get('code_challenge'), method: q.get('code_challenge_method'),
                      used: false });
    issued.push(code);
    back.searchParams.set('code', code);
    if (scenario === 'state_mismatch') back.searchParams.set('state', rand(16));
    else if (scenario !== 'state_missing') back.searchParams.set('state', state);
    return redirect(res, back.toString());
}

function clientAuth(req, form) {
    const h = req.headers.authorization || '';
    if (h.startsWith('Basic ')) {
        const [id, secret] = Buffer.from(h.slice(6), 'base64').toString('utf8').split(':')
            .map((s) => decodeURIComponent(s.replace(/\+/g, ' ')));
        return { method: 'client_secret_basic', ok: id === clientId && secret === clientSecret };
    }
    if (form.get('client_secret')) {
        return { method: 'client_secret_post',
                 ok: form.get('client_id') === clientId && form.get('client_secret') === clientSecret };
    }
    return { method: 'none', ok: false };
}

function pkceOk(entry, verifier) {
    if (!entry.challenge) return scenario !== 'pkce_required';
    if (entry.method !== 'S256' || !verifier) return false;
    const want = Buffer.from(b64u(createHash('sha256').update(verifier).digest()));
    const got = Buffer.from(entry.challenge);
    return want.length === got.length && timingSafeEqual(want, got);
}

function issueRefreshToken() {
    const rt = 'hrt-' + rand();
    refreshTokens.set(rt, refreshTokens.size);
    return rt;
}

// grant_type=refresh_token: new tokens for any refresh token it issued; see REFRESH_FAULTS.
async function refresh(res, form, record) {
    counters.refresh += 1;
    const index = refreshTokens.get(form.get('refresh_token') || '');
    record.rt_index = index === undefined ? null : index;
    if (index === undefined) return send(res, 400, { error: 'invalid_grant' });
    const fault = refreshFault;
    refreshFault = null;
    record.fault = fault;
    const accessToken = 'hat-' + rand();
    const t = now();
    const c = { iss: issuer, sub: 'hostile-alice', aud: clientId, exp: t + 600, iat: t };
    const signing = keys.rotated || keys.rsa;
    let id;
    switch (fault) {
    case 'id_wrong_iss': id = await sign({ ...c, iss: 'https://evil.example' }, signing); break;
    case 'id_wrong_aud': id = await sign({ ...c, aud: 'someone-else' }, signing); break;
    case 'id_wrong_sub': id = await sign({ ...c, sub: 'hostile-mallory' }, signing); break;
    case 'id_alg_none': id = unsigned({ alg: 'none', typ: 'JWT' }, c); break;
    case 'id_bad_sig': id = corrupt(await sign(c, signing)); break;
    default: id = await sign(c, signing);
    }
    const body = { access_token: accessToken, token_type: 'Bearer', expires_in: accessTokenTtl,
                   refresh_token: issueRefreshToken(), id_token: id };
    issued.push(body.access_token, body.refresh_token, body.id_token);
    record.new_rt_index = refreshTokens.get(body.refresh_token);
    switch (fault) {
    case 'garbage': return send(res, 200, '<html>not json}{', { 'Content-Type': 'application/json' });
    case 'huge': body.padding = 'x'.repeat(2 * 1024 * 1024); break;
    case 'token_type_wrong': body.token_type = 'MAC'; break;
    default: break;
    }
    return send(res, 200, body);
}

async function token(req, res) {
    counters.token += 1;
    const form = new URLSearchParams(await readBody(req));
    const auth = clientAuth(req, form);
    const entry = codes.get(form.get('code') || '');
    const record = { grant_type: form.get('grant_type'), auth_method: auth.method,
                     client_ok: auth.ok, code_known: !!entry, code_reused: !!(entry && entry.used),
                     pkce_ok: entry ? pkceOk(entry, form.get('code_verifier')) : false,
                     redirect_uri_ok: !!entry && form.get('redirect_uri') === entry.redirect_uri };
    tokenLog.push(record);
    if (scenario === 'token_hang') return;   // never answers; the socket stays open
    if (!auth.ok) return send(res, 401, { error: 'invalid_client' });
    if (record.grant_type === 'refresh_token') return refresh(res, form, record);
    if (record.grant_type !== 'authorization_code' || !entry || entry.used || !record.pkce_ok
        || !record.redirect_uri_ok) {
        if (entry) entry.used = true;
        return send(res, 400, { error: 'invalid_grant' });
    }
    entry.used = true;
    // at_jwt_huge_exp: a JWT access token whose exp is far past year 9999, and no expires_in
    const accessToken = scenario === 'at_jwt_huge_exp'
        ? `${b64u('{"alg":"none"}')}.${b64u(JSON.stringify({ exp: 1e15, r: rand() }))}.x`
        : 'hat-' + rand();
    const body = { access_token: accessToken, token_type: 'Bearer', expires_in: accessTokenTtl,
                   refresh_token: issueRefreshToken(), scope: 'openid email profile',
                   id_token: await idToken(entry, accessToken) };
    issued.push(body.access_token, body.refresh_token, body.id_token);
    switch (scenario) {
    case 'token_error': return send(res, 400, { error: 'invalid_request',
                                                error_description: 'hostile refusal' });
    case 'token_server_error': return send(res, 500, 'Internal Server Error');
    case 'token_redirect':   // a token endpoint must never be followed elsewhere
        res.writeHead(307, { Location: 'https://evil.example/token' });
        return res.end();
    case 'token_type_missing': delete body.token_type; break;
    case 'token_type_unknown': body.token_type = 'MAC'; break;
    case 'token_garbage': return send(res, 200, '<html>not json}{', { 'Content-Type': 'application/json' });
    case 'id_token_missing': delete body.id_token; break;
    case 'access_token_missing': delete body.access_token; break;
    case 'token_oversized': body.padding = 'x'.repeat(2 * 1024 * 1024); break;
    case 'token_expires_in_string': body.expires_in = '600'; break;
    case 'at_jwt_huge_exp': delete body.expires_in; break;
    default: break;
    }
    return send(res, 200, body);
}

function userinfo(req, res) {
    counters.userinfo += 1;
    const sub = scenario === 'userinfo_sub_mismatch' ? 'mallory' : 'hostile-alice';
    return send(res, 200, { sub, email: 'mallory@evil.example', name: 'Mallory' });
}

async function admin(req, res, url) {
    if (req.method === 'GET' && url.pathname === '/admin/state') {
        return send(res, 200, { scenario, counters, token_log: tokenLog, issued,
                                rotated_generation: rotatedGeneration });
    }
    if (req.method !== 'POST') return send(res, 405, { error: 'method' });
    const body = (await readBody(req)) || '{}';
    if (url.pathname === '/admin/scenario') {
        const { name } = JSON.parse(body);
        if (!SCENARIOS.has(name)) return send(res, 400, { error: `unknown scenario ${name}` });
        scenario = name;
        return send(res, 200, { scenario });
    }
    if (url.pathname === '/admin/refresh') {
        const { fault = null, access_token_ttl: ttl } = JSON.parse(body);
        if (fault !== null && !REFRESH_FAULTS.has(fault)) {
            return send(res, 400, { error: `unknown refresh fault ${fault}` });
        }
        refreshFault = fault;
        if (ttl !== undefined) accessTokenTtl = Number(ttl);
        return send(res, 200, { fault: refreshFault, access_token_ttl: accessTokenTtl });
    }
    if (url.pathname === '/admin/logout-token') {
        return send(res, 200, { logout_token: await logoutToken(JSON.parse(body).variant || 'good') });
    }
    if (url.pathname === '/admin/rotate') {
        rotatedGeneration += 1;
        keys.rotated = await makeKey('RS256', `rsa-rotated-${rotatedGeneration}`);
        return send(res, 200, { kid: keys.rotated.kid });
    }
    if (url.pathname === '/admin/reset') {
        reset();
        keys.rotated = null;
        return send(res, 200, { ok: true });
    }
    return send(res, 404, { error: 'not found' });
}

const server = createServer({ cert: readFileSync(args.cert), key: readFileSync(args.key) },
                            async (req, res) => {
    const url = new URL(req.url, issuer);
    try {
        if (url.pathname.startsWith('/admin/')) return await admin(req, res, url);
        switch (url.pathname) {
        case '/.well-known/openid-configuration':
            counters.discovery += 1;
            return send(res, 200, discovery());
        case '/jwks':
            counters.jwks += 1;
            if (scenario === 'jwks_garbage') return send(res, 200, '{"keys": [ not json');
            if (scenario === 'jwks_oversized') {
                return send(res, 200, { ...jwks(), padding: 'x'.repeat(2 * 1024 * 1024) });
            }
            return send(res, 200, jwks());
        case '/authorize': return authorize(res, url);
        case '/token': return await token(req, res);
        case '/userinfo': return userinfo(req, res);
        default: return send(res, 404, { error: 'not found' });
        }
    } catch (e) {
        console.error(e);
        return send(res, 500, { error: 'hostile op bug' });
    }
});
server.keepAliveTimeout = 1000;
server.listen(port, '127.0.0.1', () => console.log(`hostile OP listening on ${issuer}`));
process.on('SIGTERM', () => { server.closeAllConnections?.(); server.close(() => process.exit(0)); });

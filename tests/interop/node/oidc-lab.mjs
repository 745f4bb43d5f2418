// An OIDC identity provider (node oidc-provider, its development login
// page) and a relying-party app, each on its own loopback address, both
// over https with a certificate of the case's CA.
//
//   node oidc-lab.mjs CONFIG.json
//
// CONFIG: { "cert", "key", "ca": PEM paths,
//           "idp": {"host", "addr", "port"}, "app": {"host", "addr", "port"},
//           "response_mode": "query" | "form_post",
//           "state_cookie": attributes of the app's state cookie, e.g.
//                           "Path=/; Secure; HttpOnly; SameSite=Lax",
//           "keep_state": true to reuse an existing rp_state at /login,
//           "lifetime_s": the process exits by itself after this long }
//
// oidc-provider 8.8 is the newest line that supports node 20 (9.x warns
// "Unsupported runtime" there).
//
// The app: `/` shows "Signed in as …" with a session, else redirects to
// `/login`; `/login` keeps state and nonce in the cookie `rp_state` and
// redirects to the IdP's authorize endpoint (extra query parameters are
// dropped, as apps do); `/prepare` only sets `rp_state` (an app that starts
// a sign-in when it is first opened); `/callback` (GET or POST) needs `rp_state` back,
// redeems the code at the token endpoint, sets `rp_session` and redirects
// to `/`. Any failure is a 400 page that says what went wrong.

import Provider from 'oidc-provider';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const tls = {
  key: fs.readFileSync(config.key),
  cert: fs.readFileSync(config.cert),
};
const ca = fs.readFileSync(config.ca);
const origin = (s) => `https://${s.host}:${s.port}`;
const issuer = origin(config.idp);
const app = origin(config.app);
const redirectUri = `${app}/callback`;
const CLIENT_ID = 'interop-app';
const CLIENT_SECRET = 'interop-app-secret';

// Bounded: whatever the test does, this process ends.
setTimeout(() => process.exit(0), (config.lifetime_s ?? 120) * 1000).unref?.();
process.on('SIGTERM', () => process.exit(0));

// --- the IdP ----------------------------------------------------------------

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: [redirectUri],
      response_types: ['code'],
      grant_types: ['authorization_code'],
    },
    // The token endpoint's clients (`reach oauth token`): a service with a
    // secret sent in the Authorization header (the default method), one
    // registered for the secret in the form, and a public client (a
    // native app: no secret) that refreshes its tokens.
    {
      client_id: 'interop-service',
      client_secret: 'interop-service-secret',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    },
    {
      client_id: 'interop-service-post',
      client_secret: 'interop-service-post-secret',
      token_endpoint_auth_method: 'client_secret_post',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    },
    {
      client_id: 'interop-native',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/callback'],
    },
  ],
  cookies: { keys: ['interop-cookie-signing-key'] },
  pkce: { required: () => false },
  claims: { openid: ['sub'], email: ['email'] },
  features: { devInteractions: { enabled: true }, clientCredentials: { enabled: true } },
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, email: `${id}@example.test` }),
  }),
  // A first-party app: no consent screen, only the sign-in page.
  loadExistingGrant: async (ctx) => {
    const grantId =
      ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    if (!ctx.oidc.session.accountId) return undefined;
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email');
    await grant.save();
    return grant;
  },
});
provider.on('server_error', (ctx, err) => console.error('idp server_error', err));

https
  .createServer(tls, provider.callback())
  .listen(config.idp.port, config.idp.addr, () => console.log(`idp on ${issuer}`));

// --- the app ----------------------------------------------------------------

const sessions = new Map(); // rp_session value → account

function cookies(req) {
  const out = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

function page(res, status, title, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers });
  res.end(`<!doctype html><html><head><title>${title}</title></head><body><h1>${title}</h1><p>${body}</p></body></html>`);
}

function redirect(res, location, headers = {}) {
  res.writeHead(302, { location, ...headers });
  res.end();
}

function body(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c) => {
      data += c;
      if (data.length > 65536) reject(new Error('body too large'));
    });
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

function redeem(code) {
  const form = new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
  }).toString();
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: config.idp.addr,
        port: config.idp.port,
        servername: config.idp.host,
        path: '/token',
        method: 'POST',
        ca,
        timeout: 5000,
        headers: {
          host: `${config.idp.host}:${config.idp.port}`,
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(form),
          authorization: 'Basic ' + Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64'),
        },
      },
      (res) => {
        let data = '';
        res.on('data', (c) => (data += c));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode, json: JSON.parse(data) });
          } catch (e) {
            reject(e);
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('token endpoint timed out')));
    req.on('error', reject);
    req.end(form);
  });
}

async function handle(req, res) {
  const url = new URL(req.url, app);
  const jar = cookies(req);
  if (url.pathname === '/' && req.method === 'GET') {
    const account = sessions.get(jar.rp_session);
    if (account) return page(res, 200, 'Signed in', `Signed in as ${account}`);
    return redirect(res, '/login');
  }
  if (url.pathname === '/prepare' && req.method === 'GET') {
    const state = crypto.randomBytes(16).toString('hex');
    const nonce = crypto.randomBytes(16).toString('hex');
    return page(res, 200, 'Welcome', 'Ready to sign in', {
      'set-cookie': `rp_state=${state}.${nonce}; ${config.state_cookie}`,
    });
  }
  if (url.pathname === '/login' && req.method === 'GET') {
    // keep_state: a pending sign-in's state cookie is reused, not renewed.
    const kept = config.keep_state && jar.rp_state ? jar.rp_state.split('.') : null;
    const state = kept ? kept[0] : crypto.randomBytes(16).toString('hex');
    const nonce = kept ? kept[1] : crypto.randomBytes(16).toString('hex');
    const authorize = new URL(`${issuer}/auth`);
    authorize.search = new URLSearchParams({
      client_id: CLIENT_ID,
      response_type: 'code',
      scope: 'openid email',
      redirect_uri: redirectUri,
      state,
      nonce,
      ...(config.response_mode === 'form_post' ? { response_mode: 'form_post' } : {}),
    }).toString();
    return redirect(
      res,
      authorize.href,
      kept ? {} : { 'set-cookie': `rp_state=${state}.${nonce}; ${config.state_cookie}` },
    );
  }
  if (url.pathname === '/callback' && (req.method === 'GET' || req.method === 'POST')) {
    const params = req.method === 'POST' ? new URLSearchParams(await body(req)) : url.searchParams;
    if (params.get('error')) {
      return page(res, 400, 'Sign-in failed', `The IdP said ${params.get('error')}`);
    }
    if (!jar.rp_state) {
      return page(res, 400, 'Sign-in failed', 'The state cookie rp_state did not come back');
    }
    if (jar.rp_state.split('.')[0] !== params.get('state')) {
      return page(res, 400, 'Sign-in failed', 'The state does not match the state cookie');
    }
    const token = await redeem(params.get('code') ?? '');
    if (token.status !== 200 || !token.json.id_token) {
      return page(res, 400, 'Sign-in failed', `The token endpoint said ${token.json.error ?? token.status}`);
    }
    const claims = JSON.parse(Buffer.from(token.json.id_token.split('.')[1], 'base64url').toString());
    if (claims.nonce !== jar.rp_state.split('.')[1]) {
      return page(res, 400, 'Sign-in failed', 'The nonce does not match');
    }
    const sid = crypto.randomBytes(16).toString('hex');
    sessions.set(sid, claims.sub);
    return redirect(res, '/', {
      'set-cookie': `rp_session=${sid}; Path=/; Secure; HttpOnly; SameSite=Lax`,
    });
  }
  return page(res, 404, 'Not found', 'Nothing here');
}

https
  .createServer(tls, (req, res) => {
    handle(req, res).catch((e) => {
      console.error('app error', e);
      if (!res.headersSent) page(res, 500, 'App error', 'The app failed');
    });
  })
  .listen(config.app.port, config.app.addr, () => console.log(`app on ${app}`));

// A real OpenID provider for the single sign-on tests: node-oidc-provider with its own login
// pages, one confidential test client, two staff users and two partners. Each sign-in reads the users afresh, and
// `PUT /test/users/<id>` (JSON {"groups": [...]}) changes a user's claims, so a test can take
// a staff role away and watch the next sign-in be refused.
//
//   OIDC_PORT=4010 OIDC_REDIRECT_URI=http://127.0.0.1:8080/sso/corp/callback node provider.mjs
//
// OIDC_REDIRECT_URI may list several, comma-separated (one per configured provider id).
//
// Prints `READY <issuer>` once it listens. oidc-provider comes from OIDC_PROVIDER_MODULES (the
// node_modules folder .ci/run installs it into, under ~/.cache).
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const port = Number(process.env.OIDC_PORT || 4010);
const redirect = process.env.OIDC_REDIRECT_URI;
const modules = process.env.OIDC_PROVIDER_MODULES;
if (!redirect || !modules) {
  console.error('OIDC_REDIRECT_URI and OIDC_PROVIDER_MODULES are required');
  process.exit(2);
}
const { default: Provider } = await import(
  pathToFileURL(path.join(modules, 'oidc-provider', 'lib', 'index.js')).href
);

// `localhost`, not 127.0.0.1: the browser keeps this provider's cookies apart from the portal's.
const issuer = `http://localhost:${port}`;

const users = {
  rui: { email: 'rui@provider.test', email_verified: true, name: 'Rui Reviewer', groups: ['portal-reviewers'] },
  nina: { email: 'nina@provider.test', email_verified: true, name: 'Nina Nostaff', groups: ['everyone'] },
  // Partners: one whose address the provider verified, one whose address it did not.
  pat: { email: 'pat@partner.test', email_verified: true, name: 'Pat Partner', groups: [] },
  eve: { email: 'eve@partner.test', email_verified: false, name: 'Eve Unverified', groups: [] },
};

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'portal',
    client_secret: 'portal-test-secret',
    redirect_uris: redirect.split(','),
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  // The claims of the granted scopes go into the ID token itself (the portal reads no userinfo).
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['portal-oidc-test-cookie-key'] },
  async findAccount(ctx, id) {
    const u = users[id];
    if (!u) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...u }; } };
  },
  // A first-party client: no consent page, the requested scopes are granted at once.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      const found = await ctx.oidc.provider.Grant.find(grantId);
      if (found) return found;
    }
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile groups');
    await grant.save();
    return grant;
  },
});

const callback = provider.callback();
const server = http.createServer((req, res) => {
  const m = req.url.match(/^\/test\/users\/([a-z]+)$/);
  if (req.method === 'PUT' && m) {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const u = users[m[1]];
      if (!u) { res.writeHead(404).end(); return; }
      try {
        Object.assign(u, JSON.parse(body));
      } catch {
        res.writeHead(400).end('bad JSON');
        return;
      }
      res.writeHead(204).end();
    });
    return;
  }
  callback(req, res);
});
// Both loopback addresses: `localhost` may resolve to either (no IPv6 is fine).
server.listen(port, '127.0.0.1', () => console.log(`READY ${issuer}`));
const v6 = http.createServer(server.listeners('request')[0]);
v6.on('error', () => {});
v6.listen(port, '::1');

#!/usr/bin/env node
// An independent OpenID provider (the npm package `oidc-provider`, pinned in package.json) on a free
// 127.0.0.1 port, for Cove's `oidc` mode tests. Prints one JSON line {"issuer": ...} when ready; then for
// every line "token" on stdin prints {"token": <JWT access token>} obtained with the client-credentials
// grant over HTTP (a resource indicator makes the provider issue RS256 JWT access tokens).
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import Provider from 'oidc-provider';

for (const name of ['log', 'info', 'debug', 'warn']) console[name] = (...args) => console.error(...args);
process.emitWarning = () => {};
const out = obj => process.stdout.write(JSON.stringify(obj) + '\n');

const CLIENT_ID = process.env.OIDC_CLIENT_ID ?? 'cove-compat';
const CLIENT_SECRET = 'cove-compat-secret-that-is-long-enough';
const RESOURCE = 'urn:cove:api';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'compat-key-1', use: 'sig', alg: 'RS256' };

const server = createServer();
await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;
const provider = new Provider(issuer, {
  clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, grant_types: ['client_credentials'],
              redirect_uris: [], response_types: [] }],
  features: {
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({ scope: 'api:read', audience: RESOURCE, accessTokenFormat: 'jwt',
                                        jwt: { sign: { alg: 'RS256' } } }),
    },
  },
  jwks: { keys: [jwk] },
});
server.on('request', provider.callback());
out({ issuer, clientId: CLIENT_ID });

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() !== 'token') continue;
  try {
    const resp = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded',
                 authorization: 'Basic ' + Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64') },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'api:read', resource: RESOURCE }),
    });
    const body = await resp.json();
    out(resp.ok ? { token: body.access_token } : { error: body });
  } catch (e) {
    out({ error: String(e) });
  }
}
server.close();

#!/usr/bin/env node
// Drives the STOCK aws-amplify v6 Auth + data clients against Cove's user pool and identity pool.
//
//   node amplify_auth_driver.mjs <amplify_outputs.json>
//
// `Amplify.configure()` gets the outputs file as `cove sandbox` wrote it; the only addition is where the
// Cognito endpoints are, which aws-amplify 6.22.1 takes as `Auth.Cognito.userPoolEndpoint` and
// `Auth.Cognito.identityPoolEndpoint` (read from `custom.cove` of the same file).
//
// Steps are JSON lines on stdin; each gets one JSON result line on stdout:
//   {"op": "signUp", "username", "password"}            signUp({username, password, options: {userAttributes: {email}}})
//   {"op": "confirmSignUp", "username", "code"}
//   {"op": "signIn", "username", "password", "authFlowType"?}   default USER_SRP_AUTH (Amplify's default)
//   {"op": "signOut", "global"?}
//   {"op": "session", "forceRefresh"?}                  fetchAuthSession(): token payloads, identityId, credentials?
//   {"op": "currentUser"}
//   {"op": "create"|"list", "model", "input"?, "options"?: {"authMode": ...}}   client.models.<model>
// A result line: {"step", "op", "result" | "thrown": {name, message}, "wire": [{request, response}]}.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const out = process.stdout.write.bind(process.stdout);
for (const name of ['log', 'info', 'debug', 'warn']) console[name] = (...args) => console.error(...args);
const emit = obj => out(JSON.stringify(obj) + '\n');

const outputsPath = process.argv[2];
if (!outputsPath) {
  console.error('usage: node amplify_auth_driver.mjs <amplify_outputs.json>');
  process.exit(2);
}
const outputs = JSON.parse(readFileSync(outputsPath, 'utf8'));

let wire = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init = {}) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  const entry = { request: { method: init.method ?? 'GET', url,
                             headers: Object.fromEntries(new Headers(init.headers ?? {}).entries()),
                             body: typeof init.body === 'string' ? tryJson(init.body) : null } };
  wire.push(entry);
  const resp = await realFetch(input, init);
  entry.response = { status: resp.status, body: tryJson(await resp.clone().text()) };
  return resp;
};
function tryJson(text) {
  try { return JSON.parse(text); } catch { return text; }
}

const { Amplify } = await import('aws-amplify');
const auth = await import('aws-amplify/auth');
const { generateClient } = await import('aws-amplify/data');

Amplify.configure(outputs);
const cove = outputs.custom?.cove ?? {};
const config = Amplify.getConfig();
Amplify.configure({
  ...config,
  Auth: { ...config.Auth, Cognito: { ...config.Auth.Cognito, userPoolEndpoint: cove.user_pool_endpoint,
                                     identityPoolEndpoint: cove.identity_pool_endpoint } },
});
const client = generateClient();

function strip(v) {
  return JSON.parse(JSON.stringify(v, (_k, val) => (typeof val === 'function' ? undefined : val)) ?? 'null');
}

async function runStep(step) {
  switch (step.op) {
    case 'signUp':
      return auth.signUp({ username: step.username, password: step.password,
                           options: { userAttributes: { email: step.username } } });
    case 'confirmSignUp':
      return auth.confirmSignUp({ username: step.username, confirmationCode: step.code });
    case 'signIn':
      return auth.signIn({ username: step.username, password: step.password,
                           options: step.authFlowType ? { authFlowType: step.authFlowType } : undefined });
    case 'signOut':
      return auth.signOut({ global: !!step.global });
    case 'currentUser':
      return auth.getCurrentUser();
    case 'session': {
      const s = await auth.fetchAuthSession({ forceRefresh: !!step.forceRefresh });
      return { accessToken: s.tokens?.accessToken?.payload ?? null, idToken: s.tokens?.idToken?.payload ?? null,
               identityId: s.identityId ?? null, hasCredentials: !!s.credentials?.accessKeyId,
               accessKeyId: s.credentials?.accessKeyId ?? null };
    }
    case 'create':
      return client.models[step.model].create(step.input, step.options);
    case 'list':
      return client.models[step.model].list(step.options ?? {});
    default:
      throw new Error(`unknown op ${step.op}`);
  }
}

let n = 0;
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const step = JSON.parse(line);
  wire = [];
  n += 1;
  try {
    emit({ step: n, op: step.op, result: strip(await runStep(step)), wire });
  } catch (e) {
    emit({ step: n, op: step.op, thrown: { name: e?.name, message: e?.message,
                                           underlying: e?.underlyingError?.message }, wire });
  }
}

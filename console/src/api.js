// The console's two ways to the server: the admin API (/console/api/...) and the public GraphQL API,
// called as the identity the picker chose.

const CSRF = { 'x-cove-console': '1' };
const JSON_TYPE = 'application/json; charset=UTF-8';

export class ApiError extends Error {
  constructor(status, type, message) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

export async function admin(method, route, body) {
  const headers = method === 'GET' ? {} : { ...CSRF, 'content-type': JSON_TYPE };
  const response = await fetch(`/console/api/${route}`, {
    method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = (data.errors && data.errors[0]) || {};
    throw new ApiError(response.status, error.errorType || 'Error', error.message || response.statusText);
  }
  return data;
}

export const userPool = (operation, params = {}) => admin('POST', 'user-pool', { operation, params });

// -- identities ---------------------------------------------------------------------------------------
// { kind: 'iam' } the server's trusted IAM key (full access); { kind: 'apiKey', apiKey };
// { kind: 'user', login } any user, signed in for you; { kind: 'guest' }; { kind: 'token', token }.

const userTokens = new Map();

async function tokenFor(login) {
  const cached = userTokens.get(login);
  if (cached && cached.until > Date.now()) return cached.token;
  const result = await admin('POST', 'sign-in-as', { username: login });
  userTokens.set(login, { token: result.id_token, until: Date.now() + (result.expires_in - 60) * 1000 });
  return result.id_token;
}

export function forgetTokens() {
  userTokens.clear();
}

export async function identityHeaders(identity, body, path = '/graphql') {
  const base = { host: location.host, 'content-type': JSON_TYPE };
  switch (identity.kind) {
    case 'apiKey':
      return { ...base, 'x-api-key': identity.apiKey || '' };
    case 'user':
      return { ...base, authorization: await tokenFor(identity.login) };
    case 'token':
      return { ...base, authorization: identity.token || '' };
    case 'iam':
    case 'guest': {
      return admin('POST', 'sign', { as: identity.kind, path, host: location.host, body });
    }
    default:
      throw new Error(`unknown identity ${identity.kind}`);
  }
}

export function describeIdentity(identity) {
  switch (identity.kind) {
    case 'iam': return 'IAM (server credentials, full access)';
    case 'apiKey': return 'API key';
    case 'user': return `user ${identity.login}`;
    case 'guest': return 'guest (identity pool)';
    case 'token': return 'authorizer / OIDC token';
    default: return identity.kind;
  }
}

export async function graphql(identity, query, variables, operationName) {
  const body = JSON.stringify({ query, variables: variables || undefined, operationName: operationName || undefined });
  let headers;
  try {
    headers = await identityHeaders(identity, body);
  } catch (error) {
    return { status: 0, body: { errors: [{ errorType: error.type || 'Error', message: error.message }] } };
  }
  delete headers.host; // signed, but the browser sends the same Host itself
  const response = await fetch('/graphql', { method: 'POST', headers, body });
  const data = await response.json().catch(() => ({ errors: [{ message: response.statusText }] }));
  return { status: response.status, body: data };
}

export function firstError(body) {
  return body && body.errors && body.errors.length ? body.errors[0] : null;
}

import React, { useEffect, useState } from 'react';
import { userPool } from './api.js';

// Who the explorer, the data pages and the live view act as.
export function IdentityPicker({ info, identity, onChange }) {
  const [users, setUsers] = useState([]);
  const hasPool = Boolean(info.auth);

  useEffect(() => {
    if (identity.kind !== 'user' || !hasPool) return;
    userPool('ListUsers').then((r) => setUsers(r.Users.map(loginOf))).catch(() => setUsers([]));
  }, [identity.kind, hasPool]);

  const pick = (kind) => {
    if (kind === 'apiKey') onChange({ kind, apiKey: info.api_key || '' });
    else if (kind === 'user') onChange({ kind, login: '' });
    else if (kind === 'token') onChange({ kind, token: '' });
    else onChange({ kind });
  };

  return (
    <div className="identity" data-testid="identity-picker">
      <label>Act as
        <select value={identity.kind} onChange={(e) => pick(e.target.value)} data-testid="identity-kind">
          <option value="iam">IAM (server credentials, full access)</option>
          <option value="apiKey">API key</option>
          {hasPool && <option value="user">A user (signed in for you)</option>}
          {hasPool && info.auth.guest_access && <option value="guest">Guest (identity pool)</option>}
          <option value="token">Authorizer / OIDC token</option>
        </select>
      </label>
      {identity.kind === 'apiKey' && (
        <input className="wide" value={identity.apiKey} placeholder="da2-…" data-testid="identity-api-key"
               onChange={(e) => onChange({ ...identity, apiKey: e.target.value })} />
      )}
      {identity.kind === 'user' && (
        <select value={identity.login} data-testid="identity-user"
                onChange={(e) => onChange({ ...identity, login: e.target.value })}>
          <option value="">— pick a user —</option>
          {users.map((login) => <option key={login} value={login}>{login}</option>)}
        </select>
      )}
      {identity.kind === 'token' && (
        <input className="wide" value={identity.token} placeholder="the Authorization header's value"
               data-testid="identity-token" onChange={(e) => onChange({ ...identity, token: e.target.value })} />
      )}
    </div>
  );
}

export function loginOf(user) {
  const attributes = Object.fromEntries((user.Attributes || user.UserAttributes || []).map((a) => [a.Name, a.Value]));
  return attributes.email || attributes.phone_number || user.Username;
}

export function attributesOf(user) {
  return Object.fromEntries((user.Attributes || []).map((a) => [a.Name, a.Value]));
}

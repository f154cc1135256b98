import React, { useState } from 'react';
import { admin } from './api.js';

export function SignIn({ onDone }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState(null);

  const submit = async (event) => {
    event.preventDefault();
    setError(null);
    try {
      await admin('POST', 'session', { username, password });
      onDone();
    } catch (e) {
      setError(e.message);
    }
  };

  return (
    <div className="center">
      <form className="card signin" onSubmit={submit}>
        <h1>Cove console</h1>
        <p className="muted">Sign in as an administrator (created with <code>cove console create-admin</code>).</p>
        <label>Admin name<input name="username" value={username} onChange={(e) => setUsername(e.target.value)}
                                autoComplete="username" /></label>
        <label>Password<input name="password" type="password" value={password}
                              onChange={(e) => setPassword(e.target.value)} autoComplete="current-password" /></label>
        {error && <p className="error" role="alert">{error}</p>}
        <button type="submit" className="primary">Sign in</button>
      </form>
    </div>
  );
}

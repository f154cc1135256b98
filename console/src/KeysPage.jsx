import React, { useCallback, useEffect, useState } from 'react';
import { admin } from './api.js';

export function KeysPage() {
  const [keys, setKeys] = useState([]);
  const [description, setDescription] = useState('');
  const [days, setDays] = useState(7);
  const [error, setError] = useState(null);
  const [fresh, setFresh] = useState(null);

  const load = useCallback(() => admin('GET', 'keys').then((r) => setKeys(r.api_keys))
    .catch((e) => setError(e.message)), []);
  useEffect(() => { load(); }, [load]);

  const call = async (route, body) => {
    setError(null);
    try {
      const result = await admin('POST', route, body);
      if (result.key) setFresh(result.key);
    } catch (e) {
      setError(`${e.type}: ${e.message}`);
    }
    load();
  };

  return (
    <div>
      <h2>API keys</h2>
      <form className="row card inline" data-testid="create-key"
            onSubmit={(e) => {
              e.preventDefault();
              call('keys', { description: description || null, expires_in_days: Number(days) });
            }}>
        <input placeholder="description" value={description} onChange={(e) => setDescription(e.target.value)} />
        <label>expires in <input type="number" min="1" max="365" value={days} className="narrow"
                                 onChange={(e) => setDays(e.target.value)} /> days</label>
        <button type="submit" className="primary">Create key</button>
      </form>
      {fresh && <p className="notice" data-testid="fresh-key">New key: <code>{fresh}</code></p>}
      {error && <p className="error" role="alert">{error}</p>}
      <table data-testid="keys">
        <thead><tr><th>Key</th><th>Description</th><th>State</th><th>Expires</th><th /></tr></thead>
        <tbody>
          {keys.map((k) => (
            <tr key={k.id} data-key={k.key}>
              <td><code>{k.key}</code></td>
              <td>{k.description || ''}</td>
              <td className={`state ${k.state}`}>{k.state}</td>
              <td>{new Date(k.expires_at * 1000).toISOString().slice(0, 16).replace('T', ' ')}</td>
              <td className="actions">
                {k.state === 'active' && <>
                  <button onClick={() => call('keys/rotate', { key: k.id })}>Rotate</button>
                  <button className="danger" onClick={() => call('keys/revoke', { key: k.id })}>Revoke</button>
                </>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

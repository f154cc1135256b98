import React, { useCallback, useEffect, useState } from 'react';
import { forgetTokens, userPool } from './api.js';
import { attributesOf, loginOf } from './IdentityPicker.jsx';

export function UsersPage({ info }) {
  const groups = info.auth ? info.auth.groups : [];
  const [users, setUsers] = useState([]);
  const [membership, setMembership] = useState({});
  const [search, setSearch] = useState('');
  const [error, setError] = useState(null);
  const [confirming, setConfirming] = useState(null);

  const load = useCallback(async () => {
    if (!info.auth) return;
    try {
      const listed = (await userPool('ListUsers')).Users;
      const members = {};
      for (const group of groups) {
        for (const u of (await userPool('ListUsersInGroup', { GroupName: group })).Users) {
          (members[u.Username] = members[u.Username] || []).push(group);
        }
      }
      setUsers(listed);
      setMembership(members);
    } catch (e) {
      setError(e.message);
    }
  }, [info.auth, groups.join()]);

  useEffect(() => { load(); }, [load]);

  if (!info.auth) return <p className="muted">This backend has no user pool (add define_auth to the schema).</p>;

  const act = async (operation, params) => {
    setError(null);
    try {
      await userPool(operation, params);
      forgetTokens();
    } catch (e) {
      setError(`${e.type}: ${e.message}`);
    }
    setConfirming(null);
    load();
  };

  const needle = search.trim().toLowerCase();
  const shown = users.filter((u) => !needle || loginOf(u).toLowerCase().includes(needle)
                               || u.Username.includes(needle)
                               || (membership[u.Username] || []).some((g) => g.toLowerCase().includes(needle)));

  return (
    <div>
      <h2>Users and groups</h2>
      <CreateUser groups={groups} onCreated={load} onError={setError} />
      <div className="row">
        <input placeholder="search by email, phone, username or group" value={search} className="wide"
               onChange={(e) => setSearch(e.target.value)} data-testid="user-search" />
        <span className="muted">{shown.length} of {users.length}</span>
      </div>
      {error && <p className="error" role="alert" data-testid="users-error">{error}</p>}
      <table data-testid="users">
        <thead><tr><th>Login</th><th>Status</th><th>Enabled</th><th>Groups</th><th /></tr></thead>
        <tbody>
          {shown.map((u) => {
            const mine = membership[u.Username] || [];
            return (
              <tr key={u.Username} data-login={loginOf(u)}>
                <td title={u.Username}>{loginOf(u)}<div className="muted small">{attributesOf(u).sub}</div></td>
                <td>{u.UserStatus}</td>
                <td>{u.Enabled ? 'yes' : 'no'}</td>
                <td className="chips">
                  {groups.map((g) => (
                    <button key={g} className={mine.includes(g) ? 'chip on' : 'chip'}
                            title={mine.includes(g) ? `remove from ${g}` : `add to ${g}`}
                            onClick={() => act(mine.includes(g) ? 'AdminRemoveUserFromGroup' : 'AdminAddUserToGroup',
                                               { Username: u.Username, GroupName: g })}>{g}</button>
                  ))}
                </td>
                <td className="actions">
                  {u.UserStatus === 'UNCONFIRMED' && (
                    <button onClick={() => act('AdminConfirmSignUp', { Username: u.Username })}>Confirm</button>
                  )}
                  {u.Enabled
                    ? <button onClick={() => act('AdminDisableUser', { Username: u.Username })}>Disable</button>
                    : <button onClick={() => act('AdminEnableUser', { Username: u.Username })}>Enable</button>}
                  {confirming === u.Username
                    ? <><button className="danger" onClick={() => act('AdminDeleteUser', { Username: u.Username })}>
                        Really delete</button><button onClick={() => setConfirming(null)}>Keep</button></>
                    : <button onClick={() => setConfirming(u.Username)}>Delete</button>}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function CreateUser({ groups, onCreated, onError }) {
  const [login, setLogin] = useState('');
  const [password, setPassword] = useState('');
  const [chosen, setChosen] = useState([]);

  const submit = async (event) => {
    event.preventDefault();
    onError(null);
    try {
      const created = await userPool('AdminCreateUser', { Username: login });
      const username = created.User.Username;
      if (password) await userPool('AdminSetUserPassword', { Username: username, Password: password, Permanent: true });
      for (const g of chosen) await userPool('AdminAddUserToGroup', { Username: username, GroupName: g });
      setLogin(''); setPassword(''); setChosen([]);
      onCreated();
    } catch (e) {
      onError(`${e.type}: ${e.message}`);
      onCreated();
    }
  };

  return (
    <form className="row card inline" onSubmit={submit} data-testid="create-user">
      <input placeholder="email or phone" value={login} onChange={(e) => setLogin(e.target.value)} name="login" />
      <input placeholder="password (empty: must set one at first sign-in)" type="password" value={password}
             onChange={(e) => setPassword(e.target.value)} name="password" className="wide" />
      {groups.map((g) => (
        <label key={g} className="check">
          <input type="checkbox" checked={chosen.includes(g)}
                 onChange={(e) => setChosen(e.target.checked ? [...chosen, g] : chosen.filter((x) => x !== g))} />{g}
        </label>
      ))}
      <button type="submit" className="primary">Create user</button>
    </form>
  );
}

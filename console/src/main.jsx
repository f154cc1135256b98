import React, { Suspense, lazy, useCallback, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import 'graphiql/style.css';
import './styles.css';
import { admin } from './api.js';
import { SignIn } from './SignIn.jsx';
import { IdentityPicker } from './IdentityPicker.jsx';
import { DataPage } from './DataPage.jsx';
import { UsersPage } from './UsersPage.jsx';
import { KeysPage } from './KeysPage.jsx';
import { LivePage } from './LivePage.jsx';
import { HealthPage } from './HealthPage.jsx';

const ExplorerPage = lazy(() => import('./ExplorerPage.jsx'));

const PAGES = [
  ['data', 'Data'], ['explorer', 'GraphQL'], ['users', 'Users & groups'], ['keys', 'API keys'],
  ['live', 'Live'], ['health', 'Health'],
];

function readRoute() {
  const [page, model] = location.hash.replace(/^#\/?/, '').split('/');
  return { page: PAGES.some(([p]) => p === page) ? page : 'data', model: model ? decodeURIComponent(model) : null };
}

function App() {
  const [session, setSession] = useState(null);
  const [info, setInfo] = useState(null);
  const [failure, setFailure] = useState(null);
  const [route, setRoute] = useState(readRoute());
  const [preset, setPreset] = useState(null); // a filter handed over by a relationship link
  const [identity, setIdentity] = useState({ kind: 'iam' });

  const load = useCallback(async () => {
    try {
      const s = await admin('GET', 'session');
      setSession(s);
      if (s.signed_in) setInfo(await admin('GET', 'info'));
    } catch (error) {
      setFailure(error.message);
    }
  }, []);

  useEffect(() => { load(); }, [load]);
  useEffect(() => {
    const onHash = () => setRoute(readRoute());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  const go = (page, model = null, filter = null) => {
    setPreset(filter);
    location.hash = `#/${page}${model ? '/' + encodeURIComponent(model) : ''}`;
  };

  if (failure) return <div className="center"><p className="error">{failure}</p></div>;
  if (!session) return <div className="center">Loading…</div>;
  if (!session.signed_in) return <SignIn onDone={load} />;
  if (!info) return <div className="center">Loading…</div>;

  const signOut = async () => {
    await admin('DELETE', 'session');
    location.reload();
  };

  return (
    <div className="shell">
      <nav className="sidebar">
        <div className="brand">Cove <span>console</span></div>
        {PAGES.map(([page, label]) => (
          <a key={page} href={`#/${page}`} className={route.page === page ? 'active' : ''}
             data-testid={`nav-${page}`}>{label}</a>
        ))}
        <div className="sidebar-foot">
          v{info.version}
          {session.policy === 'admin' && (
            <div>{session.admin} · <button className="link" onClick={signOut}>sign out</button></div>
          )}
        </div>
      </nav>
      <main>
        <header className="topbar">
          <IdentityPicker info={info} identity={identity} onChange={setIdentity} />
        </header>
        <section className="page">
          {route.page === 'data' && (
            <DataPage info={info} identity={identity} modelName={route.model} preset={preset} go={go} />
          )}
          {route.page === 'explorer' && (
            <Suspense fallback={<p>Loading the explorer…</p>}>
              <ExplorerPage info={info} identity={identity} />
            </Suspense>
          )}
          {route.page === 'users' && <UsersPage info={info} />}
          {route.page === 'keys' && <KeysPage />}
          {route.page === 'live' && <LivePage info={info} identity={identity} />}
          {route.page === 'health' && <HealthPage info={info} />}
        </section>
      </main>
    </div>
  );
}

createRoot(document.getElementById('root')).render(<App />);

import React, { useEffect, useRef, useState } from 'react';
import { describeIdentity, identityHeaders } from './api.js';
import { documents, models } from './schema.js';

const OPS = ['create', 'update', 'delete'];
const MAX_EVENTS = 200;

function base64url(text) {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)))
    .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// Subscribes over AppSync's real-time protocol (the same WebSocket every client uses), as the picked identity.
export function LivePage({ info, identity }) {
  const all = models(info.schema);
  const [chosen, setChosen] = useState(all.slice(0, 1).map((m) => m.name));
  const [ops, setOps] = useState(OPS);
  const [filter, setFilter] = useState('');
  const [state, setState] = useState('stopped');
  const [events, setEvents] = useState([]);
  const [problems, setProblems] = useState([]);
  const socket = useRef(null);

  useEffect(() => () => socket.current && socket.current.close(), []);

  const stop = () => {
    if (socket.current) socket.current.close();
    socket.current = null;
    setState('stopped');
  };

  const start = async () => {
    stop();
    setProblems([]);
    let variables = {};
    if (filter.trim()) {
      try {
        variables = { filter: JSON.parse(filter) };
      } catch {
        setProblems(['The filter is not valid JSON']);
        return;
      }
    }
    setState('connecting');
    const header = await identityHeaders(identity, '{}', '/graphql/connect').catch((e) => {
      setProblems([e.message]);
      return null;
    });
    if (!header) { setState('stopped'); return; }
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const protocols = ['graphql-ws', `header-${base64url(JSON.stringify(header))}`]; // AppSync's handshake
    const ws = new WebSocket(`${scheme}://${location.host}${info.realtime}`, protocols);
    socket.current = ws;
    const names = {};
    ws.onopen = () => ws.send(JSON.stringify({ type: 'connection_init' }));
    ws.onclose = () => { if (socket.current === ws) setState('closed'); };
    ws.onmessage = async (message) => {
      const m = JSON.parse(message.data);
      if (m.type === 'connection_ack') {
        setState('subscribing');
        let n = 0;
        for (const name of chosen) {
          for (const op of ops) {
            const id = `${name}-${op}-${n++}`;
            names[id] = { model: name, op };
            const query = documents.subscription(info.schema, info.schema.models[name], op);
            const data = JSON.stringify({ query, variables });
            const authorization = await identityHeaders(identity, data, '/graphql');
            ws.send(JSON.stringify({ id, type: 'start', payload: { data, extensions: { authorization } } }));
          }
        }
      } else if (m.type === 'start_ack') {
        setState('live');
      } else if (m.type === 'data') {
        const { model, op } = names[m.id] || {};
        const payload = m.payload && m.payload.data ? Object.values(m.payload.data)[0] : null;
        setEvents((list) => [{ at: new Date(), model, op, record: payload, errors: m.payload.errors }, ...list]
          .slice(0, MAX_EVENTS));
      } else if (m.type === 'error' || m.type === 'connection_error') {
        const errors = (m.payload && m.payload.errors) || [];
        setProblems((list) => [...list, ...errors.map((e) => `${e.errorType || 'Error'}: ${e.message}`)]);
      }
    };
  };

  const toggle = (list, setList, value) => setList(
    list.includes(value) ? list.filter((v) => v !== value) : [...list, value]);

  return (
    <div>
      <h2>Live events</h2>
      <div className="card">
        <div className="row wrap" data-testid="live-models">
          <strong>Models</strong>
          {all.map((m) => (
            <label key={m.name} className="check">
              <input type="checkbox" checked={chosen.includes(m.name)}
                     onChange={() => toggle(chosen, setChosen, m.name)} />
              {m.name}
            </label>
          ))}
        </div>
        <div className="row">
          <strong>Events</strong>
          {OPS.map((op) => (
            <label key={op} className="check">
              <input type="checkbox" checked={ops.includes(op)} onChange={() => toggle(ops, setOps, op)} />{op}
            </label>
          ))}
        </div>
        <label className="field">Filter (a subscription filter, JSON; optional)
          <input value={filter} onChange={(e) => setFilter(e.target.value)} placeholder='{"done": {"eq": false}}'
                 data-testid="live-filter" />
        </label>
        <div className="row">
          {state === 'stopped' || state === 'closed'
            ? <button className="primary" onClick={start} data-testid="live-start">Start</button>
            : <button onClick={stop} data-testid="live-stop">Stop</button>}
          <span className="muted" data-testid="live-state">{state}</span>
          <span className="muted">as {describeIdentity(identity)}</span>
          <button onClick={() => setEvents([])}>Clear</button>
        </div>
      </div>
      {problems.map((p, i) => <p key={i} className="error" role="alert">{p}</p>)}
      <table data-testid="live-events">
        <thead><tr><th>Time</th><th>Model</th><th>Event</th><th>Record</th></tr></thead>
        <tbody>
          {events.map((e, i) => (
            <tr key={events.length - i} className={`event ${e.op}`}>
              <td>{e.at.toLocaleTimeString()}</td><td>{e.model}</td><td>{e.op}</td>
              <td><code>{JSON.stringify(e.record)}</code>
                {e.errors && <span className="error"> {e.errors.map((x) => x.message).join('; ')}</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

import React, { useCallback, useEffect, useState } from 'react';
import { admin } from './api.js';

// Server facts, /ready's checks, warnings, the Prometheus metrics (text, parsed here) and this process's
// recent log records from the admin API, plus the status of the server's own /health and /ready.
export function HealthPage({ info }) {
  const [health, setHealth] = useState(null);
  const [probes, setProbes] = useState({});
  const [metrics, setMetrics] = useState(null);
  const [needle, setNeedle] = useState('');
  const [logs, setLogs] = useState([]);
  const [level, setLevel] = useState('info');
  const [logNeedle, setLogNeedle] = useState('');

  const load = useCallback(async () => {
    const facts = await admin('GET', 'health').catch((e) => ({ error: e.message }));
    setHealth(facts);
    setLogs((await admin('GET', 'logs').catch(() => ({ entries: [] }))).entries);
    const found = {};
    for (const path of ['/health', '/ready']) {
      const r = await fetch(path).catch(() => null);
      found[path] = r ? r.status : 'unreachable';
    }
    setProbes(found);
    setMetrics(facts.metrics ? parseMetrics(facts.metrics) : null);
  }, []);

  useEffect(() => {
    load();
    const timer = setInterval(load, 5000);
    return () => clearInterval(timer);
  }, [load]);

  if (!health) return <p>Loading…</p>;
  if (health.error) return <p className="error">{health.error}</p>;
  const shown = (metrics || []).filter((m) => !needle || m.name.includes(needle));
  const minimum = LEVELS.indexOf(level);
  const lines = logs.filter((l) => LEVELS.indexOf(l.level) >= minimum)
    .filter((l) => !logNeedle || `${l.logger} ${l.message} ${l.error || ''}`.toLowerCase()
      .includes(logNeedle.toLowerCase()))
    .reverse();

  return (
    <div>
      <h2>Health</h2>
      <div className="tiles" data-testid="health-tiles">
        <Tile label="Version" value={health.version} />
        <Tile label="Up for" value={duration(health.uptime_seconds)} />
        <Tile label="Real-time connections" value={health.realtime.connections} testid="tile-connections" />
        <Tile label="Subscriptions" value={health.realtime.subscriptions} />
        <Tile label="Users" value={health.users ?? '—'} />
        <Tile label="Active API keys" value={`${health.api_keys.active} of ${health.api_keys.total}`} />
      </div>
      {(health.warnings || []).map((w) => <p key={w} className="error" data-testid="health-warning">{w}</p>)}
      {health.ready && (
        <table data-testid="health-ready">
          <thead><tr><th>Readiness check</th><th>State</th></tr></thead>
          <tbody>{Object.entries(health.ready).map(([name, state]) => (
            <tr key={name}><td>{name}</td><td>{state}</td></tr>))}</tbody>
        </table>
      )}
      <h3>Models</h3>
      <table data-testid="health-models">
        <thead><tr><th>Model</th><th>Records</th></tr></thead>
        <tbody>
          {Object.entries(health.models).map(([name, n]) => <tr key={name}><td>{name}</td><td>{n}</td></tr>)}
        </tbody>
      </table>
      <h3>Endpoints</h3>
      <p>GraphQL <code>{info.graphql}</code> · real time <code>{info.realtime}</code>
        {health.realtime.broker && <> · events via {health.realtime.broker}</>}</p>
      <p>{Object.entries(probes).map(([path, status]) => (
        <span key={path} className="probe">
          <code>{path}</code> {status === 200 ? 'ok' : `not available (${status})`}
        </span>
      ))}</p>
      <h3>Metrics</h3>
      {metrics === null
        ? <p className="muted">This server keeps no metrics (start it with <code>--metrics-port</code>).</p>
        : <>
            <input placeholder="filter metrics" value={needle} onChange={(e) => setNeedle(e.target.value)} />
            <table><tbody>{shown.slice(0, 200).map((m, i) => (
              <tr key={i}><td><code>{m.name}{m.labels}</code></td><td>{m.value}</td></tr>
            ))}</tbody></table>
          </>}
      <h3>Logs</h3>
      <div className="row">
        <label>at least
          <select value={level} onChange={(e) => setLevel(e.target.value)} data-testid="log-level">
            {LEVELS.map((l) => <option key={l}>{l}</option>)}
          </select>
        </label>
        <input placeholder="filter logs" value={logNeedle} onChange={(e) => setLogNeedle(e.target.value)} />
        <span className="muted">{lines.length} of the last {logs.length} records of this server process</span>
      </div>
      <table data-testid="health-logs">
        <thead><tr><th>Time</th><th>Level</th><th>Logger</th><th>Message</th></tr></thead>
        <tbody>
          {lines.map((l, i) => (
            <tr key={lines.length - i} className={`log ${l.level}`}>
              <td>{new Date(l.time * 1000).toLocaleTimeString()}</td><td>{l.level}</td><td>{l.logger}</td>
              <td>{l.message}{l.error && <div className="error small">{l.error}</div>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const LEVELS = ['debug', 'info', 'warning', 'error', 'critical'];

function Tile({ label, value, testid }) {
  return (
    <div className="tile" data-testid={testid}>
      <div className="muted">{label}</div>
      <div className="big">{value}</div>
    </div>
  );
}

function duration(seconds) {
  const s = Math.floor(seconds);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h`;
}

export function parseMetrics(text) {
  return text.split('\n').filter((line) => line && !line.startsWith('#')).map((line) => {
    const found = line.match(/^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/);
    return found ? { name: found[1], labels: found[2] || '', value: found[3] } : null;
  }).filter(Boolean);
}

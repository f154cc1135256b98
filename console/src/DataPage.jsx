import React, { useCallback, useEffect, useMemo, useState } from 'react';
import { admin, describeIdentity, firstError, graphql } from './api.js';
import {
  INTROSPECT_INPUTS, associations, buildFilter, dataFields, documents, filterOperators, keyFields, models,
} from './schema.js';
import { RecordForm } from './RecordForm.jsx';

let inputTypes = null; // the schema's input types, read once (as IAM: introspection is not a data read)

async function loadInputTypes() {
  if (!inputTypes) {
    const { body } = await graphql({ kind: 'iam' }, INTROSPECT_INPUTS);
    inputTypes = body.data ? body.data.__schema.types : [];
  }
  return inputTypes;
}

export function DataPage({ info, identity, modelName, preset, go }) {
  const [counts, setCounts] = useState({});
  const refreshCounts = useCallback(() => admin('GET', 'counts').then(setCounts).catch(() => {}), []);
  useEffect(() => { refreshCounts(); }, [refreshCounts, modelName]);
  const all = models(info.schema);
  const model = modelName && info.schema.models[modelName];

  return (
    <div className="data">
      <aside className="models" data-testid="model-list">
        <h2>Models</h2>
        {all.map((m) => (
          <a key={m.name} href={`#/data/${m.name}`} className={m.name === modelName ? 'active' : ''}
             data-testid={`model-${m.name}`}>
            {m.name} <span className="count" data-testid={`count-${m.name}`}>{counts[m.name] ?? '…'}</span>
          </a>
        ))}
      </aside>
      <div className="model-view">
        {model
          ? <ModelTable key={model.name + JSON.stringify(preset)} info={info} model={model} identity={identity}
                        preset={preset} go={go} onChange={refreshCounts} />
          : <p className="muted">Pick a model to browse its records.</p>}
      </div>
    </div>
  );
}

function ModelTable({ info, model, identity, preset, go, onChange }) {
  const mis = info.schema;
  const fields = dataFields(model);
  const links = associations(model);
  const [operators, setOperators] = useState({});
  const [conditions, setConditions] = useState(preset ? [preset] : []);
  const [applied, setApplied] = useState(preset ? [preset] : []);
  const [limit, setLimit] = useState(25);
  const [tokens, setTokens] = useState([null]); // the nextToken of each page seen
  const [page, setPage] = useState(null);
  const [error, setError] = useState(null);
  const [sort, setSort] = useState(null);
  const [editing, setEditing] = useState(null); // null, 'new' or a record
  const [confirming, setConfirming] = useState(null);

  useEffect(() => {
    loadInputTypes().then((types) => setOperators(filterOperators(types, model.name)));
  }, [model.name]);

  const fetchPage = useCallback(async (token, index) => {
    setError(null);
    const variables = { limit, nextToken: token, filter: buildFilter(applied, model) };
    const { body } = await graphql(identity, documents.list(mis, model), variables);
    const problem = firstError(body);
    const result = body.data && body.data[`list${model.pluralName}`];
    if (problem) setError(`${problem.errorType || 'Error'}: ${problem.message}`);
    setPage({ ...(result || { items: [], nextToken: null }), index });
  }, [identity, limit, applied, mis, model]);

  useEffect(() => { setTokens([null]); fetchPage(null, 1); }, [fetchPage]);

  const rows = useMemo(() => {
    const items = page ? [...page.items] : [];
    if (sort) {
      items.sort((a, b) => {
        const x = a[sort.field]; const y = b[sort.field];
        const missing = (v) => v === null || v === undefined; // nulls sort last either way
        const order = x === y ? 0 : missing(x) ? 1 : missing(y) ? -1 : x < y ? -1 : 1;
        return sort.desc ? -order : order;
      });
    }
    return items;
  }, [page, sort]);

  const next = () => { setTokens([...tokens, page.nextToken]); fetchPage(page.nextToken, tokens.length + 1); };
  const previous = () => {
    const earlier = tokens.slice(0, -1);
    setTokens(earlier);
    fetchPage(earlier[earlier.length - 1], earlier.length);
  };
  const reload = () => { fetchPage(tokens[tokens.length - 1], tokens.length); onChange(); };

  const remove = async (record) => {
    const input = Object.fromEntries(keyFields(model).map((k) => [k, record[k]]));
    const { body } = await graphql(identity, documents.mutation(mis, model, 'delete'), { input });
    const problem = firstError(body);
    setConfirming(null);
    if (problem) setError(`${problem.errorType || 'Error'}: ${problem.message}`);
    reload();
  };

  const header = (f) => (
    <th key={f.name} onClick={() => setSort(sort && sort.field === f.name ? { ...sort, desc: !sort.desc }
                                                                           : { field: f.name, desc: false })}
        className="sortable" title="sort the loaded page">
      {f.name}{sort && sort.field === f.name ? (sort.desc ? ' ▼' : ' ▲') : ''}
    </th>
  );

  return (
    <div>
      <div className="row spread">
        <h2>{model.name}</h2>
        <div className="row">
          <span className="muted">as {describeIdentity(identity)}</span>
          <button className="primary" onClick={() => setEditing('new')} data-testid="new-record">
            New {model.name}
          </button>
        </div>
      </div>
      <FilterBuilder model={model} operators={operators} conditions={conditions} onChange={setConditions}
                     onApply={() => setApplied(conditions.filter((c) => c.field && c.operator))} />
      {error && <p className="error" role="alert" data-testid="data-error">{error}</p>}
      {editing && (
        <RecordForm info={info} model={model} identity={identity} record={editing === 'new' ? null : editing}
                    onDone={() => { setEditing(null); reload(); }} onCancel={() => setEditing(null)} />
      )}
      <div className="table-wrap">
        <table data-testid="records">
          <thead><tr>{fields.map(header)}{links.map((l) => <th key={l.name}>{l.name}</th>)}<th /></tr></thead>
          <tbody>
            {rows.map((record) => (
              <tr key={keyFields(model).map((k) => record[k]).join('|')}>
                {fields.map((f) => <td key={f.name}>{show(record[f.name])}</td>)}
                {links.map((l) => <td key={l.name}>{relationLink(mis, model, l, record, go)}</td>)}
                <td className="actions">
                  <button onClick={() => setEditing(record)}>Edit</button>
                  {confirming === record
                    ? <><button className="danger" onClick={() => remove(record)}>Really delete</button>
                        <button onClick={() => setConfirming(null)}>Keep</button></>
                    : <button onClick={() => setConfirming(record)}>Delete</button>}
                </td>
              </tr>
            ))}
            {page && !rows.length && (
              <tr><td colSpan={fields.length + links.length + 1} className="muted">No records.</td></tr>
            )}
          </tbody>
        </table>
      </div>
      <div className="row pager">
        <button disabled={tokens.length < 2} onClick={previous}>← Previous</button>
        <span className="muted" data-testid="page-number">{page ? `page ${page.index}` : 'loading…'}</span>
        <button disabled={!page || !page.nextToken} onClick={next} data-testid="next-page">Next →</button>
        <label>Page size
          <select value={limit} onChange={(e) => setLimit(Number(e.target.value))}>
            {[10, 25, 50, 100].map((n) => <option key={n}>{n}</option>)}
          </select>
        </label>
      </div>
    </div>
  );
}

function FilterBuilder({ model, operators, conditions, onChange, onApply }) {
  const fieldNames = Object.keys(operators);
  const update = (i, change) => onChange(conditions.map((c, j) => (i === j ? { ...c, ...change } : c)));
  return (
    <div className="filters" data-testid="filters">
      {conditions.map((c, i) => (
        <div className="row" key={i}>
          <select value={c.field || ''} onChange={(e) => update(i, { field: e.target.value, operator: null })}
                  data-testid="filter-field">
            <option value="">field…</option>
            {fieldNames.map((f) => <option key={f}>{f}</option>)}
          </select>
          <select value={c.operator ? c.operator.name : ''} data-testid="filter-operator"
                  onChange={(e) => update(i, { operator: operatorNamed(operators, c.field, e.target.value) })}>
            <option value="">operator…</option>
            {(operators[c.field] || []).map((o) => <option key={o.name}>{o.name}</option>)}
          </select>
          <input value={c.value || ''} onChange={(e) => update(i, { value: e.target.value })} data-testid="filter-value"
                 placeholder={c.operator && c.operator.list ? 'a, b' : 'value'} />
          <button onClick={() => onChange(conditions.filter((_, j) => j !== i))} title="remove">✕</button>
        </div>
      ))}
      <div className="row">
        <button onClick={() => onChange([...conditions, { field: '', operator: null, value: '' }])}
                data-testid="add-filter">+ Filter</button>
        <button onClick={onApply} data-testid="apply-filter">Apply</button>
        <span className="muted">{model.name} filters come from Model{model.name}FilterInput</span>
      </div>
    </div>
  );
}

function operatorNamed(operators, field, name) {
  return (operators[field] || []).find((o) => o.name === name);
}

function relationLink(mis, model, link, record, go) {
  const target = mis.models[link.type.model];
  const kind = link.association.connectionType;
  if (kind === 'BELONGS_TO') {
    const value = record[link.association.targetNames[0]];
    if (value === null || value === undefined) return <span className="muted">—</span>;
    const key = keyFields(target)[0];
    return <button className="link" onClick={() => go('data', target.name, { field: key, operator: { name: 'eq' },
                                                                             value: String(value) })}>
      {target.name} {String(value).slice(0, 8)} →</button>;
  }
  const field = link.association.associatedWith[0];
  const own = record[keyFields(model)[0]];
  return <button className="link" data-testid={`link-${link.name}`}
                 onClick={() => go('data', target.name, { field, operator: { name: 'eq' }, value: String(own) })}>
    {link.name} →</button>;
}

function show(value) {
  if (value === null || value === undefined) return <span className="muted">null</span>;
  if (typeof value === 'object') return <code>{JSON.stringify(value)}</code>;
  return String(value);
}

import React, { useState } from 'react';
import { graphql } from './api.js';
import { dataFields, documents, isNumeric, keyFields } from './schema.js';

// A form built from the schema: inputs by type, enums as choices, custom types as nested groups,
// arrays as JSON. Values go to the server as typed; its validation messages appear at their field.
export function RecordForm({ info, model, identity, record, onDone, onCancel }) {
  const mis = info.schema;
  const keys = keyFields(model);
  const custom = Boolean(model.primaryKeyInfo && model.primaryKeyInfo.isCustomPrimaryKey);
  const editable = dataFields(model).filter((f) => !f.isReadOnly && (custom || f.name !== 'id' || record));
  const [values, setValues] = useState(() => initial(mis, editable, record));
  const [errors, setErrors] = useState({});
  const [formError, setFormError] = useState(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setErrors({});
    setFormError(null);
    const { input, problems } = toInput(mis, editable, values, record);
    if (Object.keys(problems).length) {
      setErrors(problems);
      setBusy(false);
      return;
    }
    if (record) keys.forEach((k) => { input[k] = record[k]; });
    const op = record ? 'update' : 'create';
    let body;
    try {
      ({ body } = await graphql(identity, documents.mutation(mis, model, op), { input }));
    } catch (error) {
      setFormError(error.message);
      return;
    } finally {
      setBusy(false);
    }
    if (body.errors && body.errors.length) {
      const atFields = {};
      const rest = [];
      for (const error of body.errors) {
        const field = fieldOf(error.message, editable);
        if (field) atFields[field] = error.message;
        else rest.push(`${error.errorType || 'Error'}: ${error.message}`);
      }
      setErrors(atFields);
      setFormError(rest.join('\n') || null);
      return;
    }
    onDone(body.data[`${op}${model.name}`]);
  };

  return (
    <form className="card record-form" onSubmit={submit} data-testid="record-form">
      <h3>{record ? `Edit ${model.name}` : `New ${model.name}`}</h3>
      {editable.map((f) => (
        <FieldInput key={f.name} mis={mis} field={f} value={values[f.name]} error={errors[f.name]}
                    locked={Boolean(record) && keys.includes(f.name)}
                    onChange={(v) => setValues({ ...values, [f.name]: v })} />
      ))}
      {formError && <p className="error" role="alert" data-testid="form-error">{formError}</p>}
      <div className="row">
        <button type="submit" className="primary" disabled={busy} data-testid="save-record">Save</button>
        <button type="button" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}

function FieldInput({ mis, field, value, error, locked, onChange }) {
  const t = field.type;
  const label = <span className="field-name">{field.name}{field.isRequired ? ' *' : ''}
    <span className="muted"> {describeType(field)}</span></span>;
  let control;
  if (field.isArray || t === 'AWSJSON') {
    control = <textarea name={field.name} value={value} disabled={locked} rows={2}
                        placeholder={field.isArray ? 'a JSON array, e.g. ["a", "b"]' : 'JSON'}
                        onChange={(e) => onChange(e.target.value)} />;
  } else if (typeof t === 'object' && t.enum) {
    control = (
      <select name={field.name} value={value} disabled={locked} onChange={(e) => onChange(e.target.value)}>
        <option value="">{field.isRequired ? 'choose…' : '(none)'}</option>
        {mis.enums[t.enum].values.map((v) => <option key={v}>{v}</option>)}
      </select>
    );
  } else if (typeof t === 'object' && t.nonModel) {
    const inner = Object.values(mis.nonModels[t.nonModel].fields);
    control = (
      <fieldset className="nested">
        {inner.map((f) => (
          <FieldInput key={f.name} mis={mis} field={f} value={(value || {})[f.name] ?? ''} locked={locked}
                      onChange={(v) => onChange({ ...(value || {}), [f.name]: v })} />
        ))}
      </fieldset>
    );
  } else if (t === 'Boolean') {
    control = (
      <select name={field.name} value={value} disabled={locked} onChange={(e) => onChange(e.target.value)}>
        <option value="">(none)</option><option>true</option><option>false</option>
      </select>
    );
  } else {
    control = <input name={field.name} value={value} disabled={locked}
                     inputMode={isNumeric(field) ? 'decimal' : undefined}
                     placeholder={placeholder(t)} onChange={(e) => onChange(e.target.value)} />;
  }
  return (
    <label className={error ? 'field invalid' : 'field'} data-field={field.name}>
      {label}
      {control}
      {error && <span className="field-error" data-testid={`error-${field.name}`}>{error}</span>}
    </label>
  );
}

function describeType(field) {
  const t = field.type;
  const name = typeof t === 'string' ? t : t.enum || t.nonModel || t.model;
  return field.isArray ? `[${name}]` : name;
}

function placeholder(t) {
  return { AWSDate: 'YYYY-MM-DD', AWSTime: 'hh:mm:ss', AWSDateTime: 'YYYY-MM-DDThh:mm:ssZ',
           AWSTimestamp: 'seconds since 1970', AWSEmail: 'name@example.com' }[t] || '';
}

// The form holds text: what the record has, written out (custom types as nested groups of text).
function initial(mis, fields, record) {
  const out = {};
  for (const f of fields) {
    const v = record ? record[f.name] : undefined;
    if (f.isArray || f.type === 'AWSJSON') {
      out[f.name] = v === null || v === undefined ? '' : (typeof v === 'string' ? v : JSON.stringify(v));
    } else if (typeof f.type === 'object' && f.type.nonModel) {
      out[f.name] = v ? initial(mis, Object.values(mis.nonModels[f.type.nonModel].fields), v) : null;
    } else out[f.name] = v === null || v === undefined ? '' : String(v);
  }
  return out;
}

// Convert what was typed. Anything that does not convert cleanly is sent as typed, for the server to judge;
// only JSON that does not parse is caught here (there is nothing sensible to send).
function toInput(mis, fields, values, record) {
  const input = {};
  const problems = {};
  for (const f of fields) {
    const raw = values[f.name];
    const empty = raw === '' || raw === null || raw === undefined;
    if (empty) {
      if (record && record[f.name] !== null && record[f.name] !== undefined) input[f.name] = null;
      continue;
    }
    if (f.isArray) {
      try {
        input[f.name] = JSON.parse(raw);
      } catch {
        problems[f.name] = 'Not valid JSON: write an array such as ["a", "b"]';
      }
    } else if (typeof f.type === 'object' && f.type.nonModel) {
      const inner = Object.values(mis.nonModels[f.type.nonModel].fields);
      const nested = toInput(mis, inner, raw, null);
      Object.assign(problems, nested.problems);
      if (Object.keys(nested.input).length) input[f.name] = nested.input;
    } else if (f.type === 'Boolean') {
      input[f.name] = raw === 'true';
    } else if (isNumeric(f)) {
      input[f.name] = raw.trim() !== '' && !Number.isNaN(Number(raw)) ? Number(raw) : raw;
    } else {
      input[f.name] = raw;
    }
  }
  return { input, problems };
}

// graphql-core and Cove name the offending input field in their messages ("invalid value at .estimate",
// "Field 'title' of required type ..."); attach the message there.
function fieldOf(message, fields) {
  const names = new Set(fields.map((f) => f.name));
  const patterns = [/invalid value at \.(\w+)/, /at 'input\.(\w+)/, /Field '(\w+)' of required type/,
                    /field '(\w+)'/i, /"(\w+)"/];
  for (const pattern of patterns) {
    const found = message.match(pattern);
    if (found && names.has(found[1])) return found[1];
  }
  return null;
}

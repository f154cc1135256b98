#!/usr/bin/env node
// Drives the STOCK aws-amplify v6 data client against a Cove server, unchanged.
//
//   node amplify_driver.mjs <amplify_outputs.json> [scenario]
//
// The outputs file is passed to `Amplify.configure()` exactly as `cove sandbox` wrote it: no edits,
// no extra library options. That is the point: Cove's outputs file must be accepted by the stock client.
//
// Without a scenario name, steps are read from stdin: JSON values, one per line (an object is one
// step, an array is several). Each step produces exactly ONE JSON line on stdout, written as soon as
// the step finishes, so a caller can hold the process open and feed it steps interactively (e.g. to
// follow `nextToken`). Everything the Amplify library itself logs goes to stderr.
//
// A step:
//   {"op": "create"|"update", "model": "Todo", "input": {...}, "options"?: {...}}
//   {"op": "get"|"delete",   "model": "Todo", "id": "..." | "identifier": {...}, "options"?: {...}}
//   {"op": "list",           "model": "Todo", "filter"?, "limit"?, "nextToken"?, "options"?: {...}}
//   {"op": "listAll",        "model": "Todo", "filter"?, "limit"?}          follows nextToken itself
//   {"op": "index",          "model": "Post", "query": "listPostByStatus", "keys": {...}, "filter"?, "limit"?}
//   {"op": "custom",         "kind": "query"|"mutation", "name": "echo", "args"?: {...}, "options"?: {...}}
//   {"op": "lazy",           "model": "Todo", "id": "...", "field": "list", "options"?: {...}}
//                            get the record, then call its lazy relationship loader
//   {"op": "graphql",        "query": "...", "variables"?: {...}}            raw client.graphql()
//   {"op": "subscribe",      "as": "s1", "model": "Todo", "event": "onCreate"|"onUpdate"|"onDelete"|"observeQuery",
//                            "filter"?, "options"?, "timeoutMs"?}   returns once the server sent start_ack
//                            (or "custom": "onPostLiked", "args"?: a custom subscription, client.subscriptions.x)
//   {"op": "events",         "as": "s1", "count"?: 1, "timeoutMs"?: 5000}   take the buffered events
//   {"op": "unsubscribe",    "as": "s1"}
//   {"op": "enum",           "name": "TodoPriority"}                         client.enums.X.values()
//   {"op": "config"}                                                         Amplify.getConfig().API
// Common keys: "label" (echoed back; later steps may use "${label.path.to.value}" as a whole string value
// to refer to an earlier result), "client" (options for generateClient, e.g. {"authMode": "apiKey"}),
// "expectThrow": true (a rejection is reported as {"thrown": ...} instead of ending the process).
// `options` is passed through as the model operation's options (selectionSet, authMode, headers, ...).
//
// A result line:
//   {"step": n, "label", "op", "result": {"data", "errors"?, "nextToken"?, "extensions"?},
//    "lazy": [names of lazy-loader functions on the returned record(s)],
//    "wire": [{"request": {method, url, headers, body}, "response": {status, headers, body}}]}
// (subscribe/events results also carry "wsWire": the WebSocket frames seen since the previous such step).
// `result` is what the client resolved with, serialised: functions (lazy loaders) are dropped and each
// error becomes {message, errorType, errorInfo, path, locations, extensions, recoverySuggestion,
// originalError: {name, message}} (whatever of these is present).
//
// Exit status: 0 when every step ran; 1 on an unexpected throw (printed as a {"thrown": ...} line on
// stdout and as a stack on stderr); 2 on bad usage or bad input.

import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import WebSocketImpl from 'ws';

// --- stdout is the protocol channel: keep library chatter off it ------------------------------------
const out = process.stdout.write.bind(process.stdout);
for (const name of ['log', 'info', 'debug']) {
  console[name] = (...args) => console.error(...args);
}
const emit = obj => out(JSON.stringify(obj) + '\n');

function usage(msg) {
  console.error(`amplify_driver: ${msg}\nusage: node amplify_driver.mjs <amplify_outputs.json> [scenario]`);
  process.exit(2);
}

const [outputsPath, scenarioName] = process.argv.slice(2);
if (!outputsPath) usage('missing the path of amplify_outputs.json');

let outputs;
try {
  outputs = JSON.parse(readFileSync(outputsPath, 'utf8'));
} catch (e) {
  usage(`cannot read ${outputsPath}: ${e.message}`);
}

// --- WebSocket for real-time (not used by HTTP operations) ------------------------------------------
// Node 20 has no global WebSocket, and Amplify always dials wss://. For a plain-http Cove URL, rewrite the
// wss:// the client builds back to ws:// (the client itself is untouched; this is the environment).
// Every socket's URL, subprotocols and frames are recorded in `wsWire` for diagnostics.
let wsWire = [];
if (typeof globalThis.WebSocket === 'undefined') {
  const plainHttp = String(outputs?.data?.url ?? '').startsWith('http://');
  globalThis.WebSocket = class extends WebSocketImpl {
    constructor(address, protocols, ...rest) {
      const url = plainHttp ? String(address).replace(/^wss:/, 'ws:') : String(address);
      super(url, protocols, ...rest);
      wsWire.push({ open: url, protocols });
      this.on('message', data => wsWire.push({ in: tryJson(data.toString()) }));
      this.on('close', (code, reason) => wsWire.push({ close: code, reason: reason.toString() }));
      this.on('error', e => wsWire.push({ error: `${e?.name}: ${e?.message}` }));
    }
    send(data, ...rest) {
      wsWire.push({ out: tryJson(String(data)) });
      return super.send(data, ...rest);
    }
  };
}

// --- Wire capture: observe what the client sends and receives (fetch is looked up per call) ---------
let wire = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init = {}) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  const entry = {
    request: {
      method: init.method ?? 'GET',
      url,
      headers: Object.fromEntries(new Headers(init.headers ?? {}).entries()),
      body: typeof init.body === 'string' ? tryJson(init.body) : init.body == null ? null : '<non-string body>',
    },
  };
  wire.push(entry);
  try {
    const resp = await realFetch(input, init);
    const text = await resp.clone().text();
    entry.response = { status: resp.status, headers: Object.fromEntries(resp.headers.entries()), body: tryJson(text) };
    return resp;
  } catch (e) {
    entry.response = { fetchError: `${e?.name}: ${e?.message}${e?.cause ? ` (cause: ${e.cause.message ?? e.cause})` : ''}` };
    throw e;
  }
};

function tryJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// --- The stock client -------------------------------------------------------------------------------
const { Amplify } = await import('aws-amplify');
const { generateClient } = await import('aws-amplify/data');
const { Hub } = await import('aws-amplify/utils');

// Real-time bookkeeping: subscription acks (the Hub 'api' channel) and per-subscription event buffers.
const acks = [];
Hub.listen('api', ({ payload }) => {
  if (payload?.event === 'Subscription ack') acks.push(payload.data?.query ?? '');
});
const subscriptions = new Map(); // name -> {sub, events: [], errors: [], waiters: Set<fn>}
const sleep = ms => new Promise(r => setTimeout(r, ms));
async function waitFor(pred, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}
function stripFns(v) {
  return JSON.parse(JSON.stringify(v, (_k, val) => (typeof val === 'function' ? undefined : val)) ?? 'null');
}

Amplify.configure(outputs);
// An outputs file with an `auth` block: point Amplify Auth at Cove's Cognito endpoints (custom.cove), as
// an app using Cove's user pool does. Otherwise every data call first tries the real AWS identity pool
// for credentials (no network here: ~0.7 s lost per call). The data configuration stays as written.
const coveEndpoints = outputs.custom?.cove;
if (outputs.auth && coveEndpoints?.user_pool_endpoint) {
  const config = Amplify.getConfig();
  Amplify.configure({
    ...config,
    Auth: { ...config.Auth, Cognito: { ...config.Auth.Cognito, userPoolEndpoint: coveEndpoints.user_pool_endpoint,
                                       identityPoolEndpoint: coveEndpoints.identity_pool_endpoint } },
  });
}

const clients = new Map();
function clientFor(options) {
  const key = JSON.stringify(options ?? null);
  if (!clients.has(key)) clients.set(key, options ? generateClient(options) : generateClient());
  return clients.get(key);
}

function modelOf(client, name) {
  const model = client.models?.[name];
  if (!model) {
    throw new Error(`client.models has no ${JSON.stringify(name)}; it has ${JSON.stringify(Object.keys(client.models ?? {}))}`);
  }
  return model;
}

function identifierOf(step) {
  if (step.identifier) return step.identifier;
  if (step.id !== undefined) return { id: step.id };
  if (step.input) return step.input;
  throw new Error(`step ${JSON.stringify(step.op)} needs "id" or "identifier"`);
}

function listArgs(step) {
  const args = { ...(step.options ?? {}) };
  for (const k of ['filter', 'limit', 'nextToken', 'sortDirection', 'selectionSet']) {
    if (step[k] !== undefined) args[k] = step[k];
  }
  return args;
}

async function runStep(step) {
  const client = clientFor(step.client);
  const opts = step.options;
  switch (step.op) {
    case 'create':
      return modelOf(client, step.model).create(step.input, opts);
    case 'update':
      return modelOf(client, step.model).update(step.input, opts);
    case 'get':
      return modelOf(client, step.model).get(identifierOf(step), opts);
    case 'delete':
      return modelOf(client, step.model).delete(identifierOf(step), opts);
    case 'list':
      return modelOf(client, step.model).list(listArgs(step));
    case 'listAll': {
      const model = modelOf(client, step.model);
      const pages = [];
      let nextToken;
      do {
        const page = await model.list({ ...listArgs(step), nextToken });
        pages.push(serialiseResult(page));
        if (page.errors?.length) break;
        nextToken = page.nextToken;
        if (pages.length > 10000) throw new Error('listAll: more than 10000 pages, nextToken never ends');
      } while (nextToken);
      return { pages };
    }
    case 'index': {
      // a secondary-index query field: client.models.X.<query>(keys, {filter, limit, ...})
      const model = modelOf(client, step.model);
      if (typeof model[step.query] !== 'function') {
        throw new Error(`client.models.${step.model} has no index query ${JSON.stringify(step.query)}`);
      }
      return model[step.query](step.keys, listArgs(step));
    }
    case 'custom': {
      // a custom operation: client.queries.x(args, options) / client.mutations.x(args, options)
      const group = client[step.kind === 'mutation' ? 'mutations' : 'queries'];
      if (typeof group?.[step.name] !== 'function') {
        throw new Error(`client.${step.kind}s has no ${JSON.stringify(step.name)}`);
      }
      return group[step.name](step.args ?? {}, opts);
    }
    case 'lazy': {
      const parent = await modelOf(client, step.model).get(identifierOf(step), opts);
      if (!parent.data) return { parent: serialiseResult(parent) };
      const loader = parent.data[step.field];
      if (typeof loader !== 'function') {
        throw new Error(`${step.model}.${step.field} is not a lazy loader on the returned record (got ${typeof loader})`);
      }
      return loader(step.loaderOptions);
    }
    case 'subscribe': {
      // {op:"subscribe", as:"s1", model:"Todo", event:"onCreate"|"onUpdate"|"onDelete"|"observeQuery",
      //  filter?, options?, timeoutMs?}: resolves once the server acknowledged the subscription (start_ack),
      //  or reports the subscription's error; events are buffered until an "events" step takes them.
      const name = step.as ?? step.label ?? `s${subscriptions.size}`;
      if (subscriptions.has(name)) throw new Error(`subscription ${name} already exists`);
      // {op:"subscribe", as, custom:"onPostLiked", args?, options?}: a custom subscription, client.subscriptions.x
      const entry = { events: [], errors: [] };
      let observable;
      let field;
      if (step.custom) {
        const fn = client.subscriptions?.[step.custom];
        if (typeof fn !== 'function') throw new Error(`client.subscriptions has no ${JSON.stringify(step.custom)}`);
        observable = fn(step.args ?? {}, opts);
        field = step.custom;
      } else {
        const model = modelOf(client, step.model);
        const fn = model[step.event];
        if (typeof fn !== 'function') throw new Error(`${step.model}.${step.event} is not a function on the client`);
        const args = { ...(opts ?? {}) };
        if (step.filter !== undefined) args.filter = step.filter;
        observable = fn(args);
        field = `${step.event}${step.model}`; // e.g. onCreateTodo
      }
      const acksBefore = acks.length;
      wsWire = [];
      entry.sub = observable.subscribe({
        next: value => entry.events.push(stripFns(value)),
        error: e => entry.errors.push(...(Array.isArray(e?.errors) ? e.errors.map(serialiseError) : [serialiseError(e?.error ?? e)])),
      });
      subscriptions.set(name, entry);
      const timeoutMs = step.timeoutMs ?? 10000;
      if (step.event === 'observeQuery') {
        await waitFor(() => entry.events.length > 0 || entry.errors.length > 0, timeoutMs);
      } else {
        const acked = () => acks.slice(acksBefore).some(q => q.includes(field));
        const ok = await waitFor(() => acked() || entry.errors.length > 0, timeoutMs);
        if (!ok) entry.errors.push({ message: `driver: no start_ack for ${field} within ${timeoutMs} ms` });
      }
      const frames = wsWire;
      wsWire = [];
      return { data: { subscription: name }, errors: entry.errors.length ? [...entry.errors] : undefined, wsWire: frames };
    }
    case 'events': {
      // {op:"events", as:"s1", count?:1, timeoutMs?:5000}: wait for at least `count` buffered events (or an
      // error, or the timeout), then hand over and clear the buffer. {count: 0, timeoutMs} = wait and collect.
      const entry = subscriptions.get(step.as);
      if (!entry) throw new Error(`no subscription ${JSON.stringify(step.as)}`);
      const count = step.count ?? 1;
      const timeoutMs = step.timeoutMs ?? 5000;
      if (count > 0) await waitFor(() => entry.events.length >= count || entry.errors.length > 0, timeoutMs);
      else await sleep(timeoutMs);
      const data = entry.events.splice(0);
      const errors = entry.errors.splice(0);
      const frames = wsWire;
      wsWire = [];
      return { data, errors: errors.length ? errors : undefined, wsWire: frames };
    }
    case 'unsubscribe': {
      const entry = subscriptions.get(step.as);
      if (!entry) throw new Error(`no subscription ${JSON.stringify(step.as)}`);
      entry.sub.unsubscribe();
      subscriptions.delete(step.as);
      return { data: { unsubscribed: step.as, pendingEvents: entry.events.length } };
    }
    case 'graphql':
      return client.graphql({ query: step.query, variables: step.variables ?? {}, ...(opts ?? {}) });
    case 'enum':
      return { data: client.enums[step.name].values() };
    case 'config':
      return { data: Amplify.getConfig().API ?? null };
    default:
      throw new Error(`unknown op ${JSON.stringify(step.op)}`);
  }
}

// --- Serialisation ----------------------------------------------------------------------------------
function serialiseError(e) {
  if (e === null || typeof e !== 'object') return { message: String(e) };
  const s = {};
  for (const k of ['message', 'errorType', 'errorInfo', 'path', 'locations', 'extensions', 'data', 'recoverySuggestion']) {
    if (e[k] !== undefined && e[k] !== null) s[k] = e[k];
  }
  if (e.originalError) s.originalError = { name: e.originalError.name, message: e.originalError.message };
  return s;
}

function serialiseResult(r) {
  if (r === null || typeof r !== 'object') return { value: r };
  if (r.pages) return r; // listAll, already serialised
  const s = {};
  for (const [k, v] of Object.entries(r)) {
    if (k === 'errors') s.errors = Array.isArray(v) ? v.map(serialiseError) : v;
    else if (k === 'parent') s.parent = v;
    else if (v !== undefined) s[k] = JSON.parse(JSON.stringify(v, (_key, val) => (typeof val === 'function' ? undefined : val)) ?? 'null');
    else if (k === 'nextToken') s[k] = null; // present but undefined: keep the key, say null
  }
  return s;
}

function lazyNames(data) {
  const rec = Array.isArray(data) ? data[0] : data;
  if (!rec || typeof rec !== 'object') return [];
  return Object.entries(rec).filter(([, v]) => typeof v === 'function').map(([k]) => k).sort();
}

function serialiseThrown(e) {
  if (e && typeof e === 'object' && Array.isArray(e.errors)) {
    // client.graphql() rejects with the {data, errors} payload for GraphQL errors
    return { data: e.data ?? null, errors: e.errors.map(serialiseError) };
  }
  return {
    name: e?.name,
    message: e?.message ?? String(e),
    recoverySuggestion: e?.recoverySuggestion,
    underlyingError: e?.underlyingError ? `${e.underlyingError.name}: ${e.underlyingError.message}` : undefined,
  };
}

// --- References to earlier results: a string value "${label.a.b}" -------------------------------
const byLabel = new Map();
function resolveRefs(value) {
  if (typeof value === 'string') {
    const m = /^\$\{([\w-]+)((?:\.[\w-]+)*)\}$/.exec(value);
    if (!m) return value;
    if (!byLabel.has(m[1])) throw new Error(`reference to unknown label ${m[1]}`);
    let v = byLabel.get(m[1]);
    for (const part of m[2].split('.').slice(1)) v = v?.[/^\d+$/.test(part) ? Number(part) : part];
    return v;
  }
  if (Array.isArray(value)) return value.map(resolveRefs);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveRefs(v)]));
  return value;
}

let stepNo = 0;
async function execute(rawStep) {
  const n = stepNo++;
  let step;
  try {
    step = resolveRefs(rawStep);
  } catch (e) {
    emit({ step: n, label: rawStep?.label, op: rawStep?.op, thrown: serialiseThrown(e) });
    process.exit(2);
  }
  wire = [];
  const line = { step: n, label: step.label, op: step.op };
  try {
    const result = await runStep(step);
    line.result = serialiseResult(result);
    line.lazy = lazyNames(result?.data);
  } catch (e) {
    line.thrown = serialiseThrown(e);
    line.wire = wire;
    if (!step.expectThrow) {
      emit(line);
      console.error(`amplify_driver: step ${n} (${step.op}) threw unexpectedly:`, e);
      process.exit(1);
    }
  }
  line.wire = wire;
  if (step.label) byLabel.set(step.label, line.result ?? line.thrown);
  emit(line);
}

// --- Built-in scenarios (for running by hand) -------------------------------------------------------
const SCENARIOS = {
  // node amplify_driver.mjs amplify_outputs.json smoke
  smoke: [
    { op: 'config' },
    { op: 'create', label: 'a', model: 'Todo', input: { content: 'smoke: buy milk', priority: 'high', tags: ['x'] } },
    { op: 'get', model: 'Todo', id: '${a.data.id}' },
    { op: 'update', model: 'Todo', input: { id: '${a.data.id}', done: true } },
    { op: 'list', model: 'Todo', filter: { content: { beginsWith: 'smoke:' } }, limit: 10 },
    { op: 'delete', model: 'Todo', id: '${a.data.id}' },
    { op: 'get', model: 'Todo', id: '${a.data.id}' },
  ],
};

if (scenarioName) {
  const steps = SCENARIOS[scenarioName];
  if (!steps) usage(`unknown scenario ${JSON.stringify(scenarioName)}; known: ${Object.keys(SCENARIOS).join(', ')}`);
  for (const step of steps) await execute(step);
} else {
  // JSON values from stdin, one per line (a value may also span lines: buffer until it parses).
  let buffer = '';
  for await (const text of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    buffer += text + '\n';
    if (!buffer.trim()) {
      buffer = '';
      continue;
    }
    let value;
    try {
      value = JSON.parse(buffer);
    } catch {
      continue; // incomplete; keep reading
    }
    buffer = '';
    for (const step of Array.isArray(value) ? value : [value]) await execute(step);
  }
  if (buffer.trim()) usage(`stdin ended inside an unparseable JSON value: ${buffer.slice(0, 200)}`);
}
for (const entry of subscriptions.values()) entry.sub.unsubscribe();
process.exit(0);

// What the pages need to know about the schema: from the model introspection (MIS) the server sends,
// and the filter operators from the GraphQL schema itself (introspection of the filter input types).

const NUMERIC = new Set(['Int', 'Float', 'AWSTimestamp']);

export function models(mis) {
  return Object.values(mis.models || {});
}

export function isAssociation(field) {
  return Boolean(field.association) || (field.type && typeof field.type === 'object' && 'model' in field.type);
}

export function dataFields(model) {
  return Object.values(model.fields).filter((f) => !isAssociation(f));
}

export function associations(model) {
  return Object.values(model.fields).filter((f) => f.association);
}

export function keyFields(model) {
  const info = model.primaryKeyInfo || { primaryKeyFieldName: 'id', sortKeyFieldNames: [] };
  return [info.primaryKeyFieldName, ...(info.sortKeyFieldNames || [])];
}

export function typeName(field) {
  const t = field.type;
  if (typeof t === 'string') return t;
  return t.enum || t.nonModel || t.model;
}

export function isNumeric(field) {
  return typeof field.type === 'string' && NUMERIC.has(field.type);
}

function selection(mis, fields, depth = 0) {
  return fields.map((f) => {
    if (f.type && typeof f.type === 'object' && f.type.nonModel && depth < 4) {
      const inner = Object.values(mis.nonModels[f.type.nonModel].fields).filter((x) => !isAssociation(x));
      return `${f.name} { ${selection(mis, inner, depth + 1)} }`;
    }
    return f.name;
  }).join(' ');
}

export function modelSelection(mis, model) {
  return selection(mis, dataFields(model));
}

export const documents = {
  list(mis, model) {
    return `query List${model.name}($filter: Model${model.name}FilterInput, $limit: Int, $nextToken: String) {
  list${model.pluralName}(filter: $filter, limit: $limit, nextToken: $nextToken) {
    items { ${modelSelection(mis, model)} }
    nextToken
  }
}`;
  },
  mutation(mis, model, op) {
    const Op = op[0].toUpperCase() + op.slice(1);
    return `mutation ${Op}${model.name}($input: ${Op}${model.name}Input!) {
  ${op}${model.name}(input: $input) { ${modelSelection(mis, model)} }
}`;
  },
  subscription(mis, model, op) {
    const Op = op[0].toUpperCase() + op.slice(1);
    return `subscription On${Op}${model.name}($filter: ModelSubscription${model.name}FilterInput) {
  on${Op}${model.name}(filter: $filter) { ${modelSelection(mis, model)} }
}`;
  },
};

// -- filter operators, read from the schema ------------------------------------------------------------

export const INTROSPECT_INPUTS = `query ConsoleInputTypes {
  __schema { types { name kind inputFields { name type { kind name ofType { kind name ofType { kind name } } } } } }
}`;

// The named type under NON_NULL/LIST wrappers, and whether a list was among them.
function named(type) {
  let t = type;
  let list = false;
  while (t && !t.name) {
    list = list || t.kind === 'LIST';
    t = t.ofType;
  }
  return { name: t ? t.name : null, list };
}

// { fieldName: [{ name: 'eq', list: false }, ...] } for a model's filter input type.
export function filterOperators(types, modelName) {
  const byName = new Map(types.map((t) => [t.name, t]));
  const input = byName.get(`Model${modelName}FilterInput`);
  const out = {};
  if (!input || !input.inputFields) return out;
  for (const field of input.inputFields) {
    if (['and', 'or', 'not'].includes(field.name)) continue;
    const inner = byName.get(named(field.type).name);
    if (!inner || !inner.inputFields) continue;
    out[field.name] = inner.inputFields
      .filter((op) => !['attributeType', 'size'].includes(op.name))
      .map((op) => ({ name: op.name, list: named(op.type).list }));
  }
  return out;
}

// Turn what was typed into the value the operator takes; the server still validates it.
export function filterValue(field, operator, text) {
  const one = (value) => {
    if (operator.name === 'attributeExists' || (field && field.type === 'Boolean')) return value === 'true';
    if (field && isNumeric(field) && value.trim() !== '' && !Number.isNaN(Number(value))) return Number(value);
    return value;
  };
  if (operator.list) return text.split(',').map((part) => one(part.trim()));
  return one(text);
}

export function buildFilter(conditions, model) {
  const parts = conditions
    .filter((c) => c.field && c.operator)
    .map((c) => ({ [c.field]: { [c.operator.name]: filterValue(model.fields[c.field], c.operator, c.value) } }));
  if (!parts.length) return null;
  return parts.length === 1 ? parts[0] : { and: parts };
}

// -- authorization rules, as the model introspection states them ---------------------------------------

const ROOT = /^(get|list|create|update|delete|onCreate|onUpdate|onDelete|sync)(.+)$/;

// The model a root field (getTodo, listTodos, onCreateTodo, ...) belongs to, or null.
export function modelOfField(mis, fieldName) {
  for (const model of Object.values(mis.models || {})) {
    const found = fieldName.match(ROOT);
    if (found && (found[2] === model.name || found[2] === model.pluralName)) return model;
  }
  return null;
}

// One line per rule, e.g. "groups Admins (userPools): create, update, delete, read".
export function describeRules(model) {
  const auth = (model.attributes || []).find((a) => a.type === 'auth');
  return ((auth && auth.properties.rules) || []).map((r) => {
    const who = r.allow === 'groups'
      ? (r.groups ? `groups ${r.groups.join(', ')}` : `groups in field ${r.groupsField}`)
      : r.allow === 'owner' ? `owner (field ${r.ownerField}, claim ${r.identityClaim})` : r.allow;
    return `${who} (${r.provider}): ${(r.operations || []).join(', ')}`;
  });
}

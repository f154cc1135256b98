import React, { useCallback, useMemo, useRef, useState } from 'react';
import { GraphiQL } from 'graphiql';
import { describeIdentity, graphql } from './api.js';
import { describeRules, modelOfField, models } from './schema.js';

// GraphiQL (completion, documentation, variables, history) sending each request as the picked identity.
// The schema itself is read as IAM, so the editor knows every type whoever is picked.
export default function ExplorerPage({ info, identity }) {
  const identityRef = useRef(identity);
  identityRef.current = identity;
  const [outcome, setOutcome] = useState(null);

  const fetcher = useCallback(async (params) => {
    const introspection = params.operationName === 'IntrospectionQuery';
    const who = introspection ? { kind: 'iam' } : identityRef.current;
    const { status, body } = await graphql(who, params.query, params.variables, params.operationName);
    if (!introspection) {
      setOutcome({ who: describeIdentity(who), status, errors: body.errors || [], rules: rulesOf(info.schema, body) });
    }
    return body;
  }, [info]);

  const defaultQuery = useMemo(() => {
    const first = models(info.schema)[0];
    if (!first) return '{ __typename }';
    return `# Run as: pick an identity above, then press Run (Ctrl-Enter).\nquery List${first.pluralName} {\n`
      + `  list${first.pluralName}(limit: 10) {\n    items { id }\n    nextToken\n  }\n}\n`;
  }, [info]);

  return (
    <div className="explorer">
      <Outcome outcome={outcome} />
      <div className="graphiql-host">
        <GraphiQL fetcher={fetcher} defaultQuery={defaultQuery} shouldPersistHeaders={false}
                  isHeadersEditorEnabled={false} />
      </div>
    </div>
  );
}

// The rules of the models whose fields were denied, from the model introspection: next to the server's
// message, they say what would have allowed the call.
function rulesOf(mis, body) {
  const out = {};
  for (const error of body.errors || []) {
    const field = error.path && error.path[0];
    const model = typeof field === 'string' ? modelOfField(mis, field) : null;
    if (model) out[model.name] = describeRules(model);
  }
  return out;
}

// What the server said about the identity's right to do it: denials carry the rule's message.
function Outcome({ outcome }) {
  if (!outcome) return <div className="outcome muted">Run an operation to see what this identity may do.</div>;
  const denied = outcome.errors.filter((e) => /Unauthori[sz]ed|Forbidden|AccessDenied/i.test(e.errorType || '')
                                              || outcome.status === 401 || outcome.status === 403);
  if (denied.length) {
    return (
      <div className="outcome denied" data-testid="explorer-outcome">
        <strong>Denied</strong> for {outcome.who}: {denied.map((e) => `${e.errorType}: ${e.message}`).join('; ')}
        {Object.entries(outcome.rules).map(([model, rules]) => (
          <div key={model} className="rules" data-testid="explorer-rules">
            {model} allows: {rules.length ? rules.join(' · ') : 'no one (no rules)'}
          </div>
        ))}
      </div>
    );
  }
  if (outcome.errors.length) {
    return (
      <div className="outcome failed" data-testid="explorer-outcome">
        <strong>Errors</strong> for {outcome.who}: {outcome.errors.map((e) => e.message).join('; ')}
      </div>
    );
  }
  return (
    <div className="outcome allowed" data-testid="explorer-outcome"><strong>Allowed</strong> for {outcome.who}</div>
  );
}

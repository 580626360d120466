// Checks a generated Backstage Software Template the way Backstage does, and runs its
// form and its fetch:template step for one sample request.
//
//   node backstage.mjs <requests.json>
//   requests: [{template, skeleton: {path, text}, form}, ...]
//   prints: [{entityErrors, formErrors, files: {path: text}, steps}, ...]
//
// Entity checks: the catalog's default entity policies and the scaffolder's
// templateEntityV1beta3Validator (what the catalog runs on a registered Template).
// Form: each parameter page's JSON Schema with ajv and defaults filled in, as
// react-jsonschema-form does before the template runs. Step input rendering
// follows plugin-scaffolder-backend's NunjucksWorkflowRunner (v1beta3): a value
// that is a single ${{ }} expression is rendered through `| dump` and parsed back,
// so it keeps its type; skeleton files and their names are rendered by nunjucks
// with the same ${{ }} tags (SecureTemplater).
import { readFileSync } from 'node:fs';
import {
  DefaultNamespaceEntityPolicy,
  EntityPolicies,
  FieldFormatEntityPolicy,
  NoForeignRootFieldsEntityPolicy,
  SchemaValidEntityPolicy,
} from '@backstage/catalog-model';
import { templateEntityV1beta3Validator } from '@backstage/plugin-scaffolder-common';
import Ajv from 'ajv';
import nunjucks from 'nunjucks';

const TAGS = { variableStart: '${{', variableEnd: '}}' };
const env = new nunjucks.Environment(null, { autoescape: false, tags: TAGS });

function isSingleTemplateString(input) {
  const parsed = nunjucks.parser.parse(input, {}, { autoescape: false, tags: TAGS });
  return (
    parsed.children.length === 1 &&
    !(parsed.children[0]?.children?.[0] instanceof nunjucks.nodes.TemplateData)
  );
}

function renderValue(value, context) {
  return JSON.parse(JSON.stringify(value), (_key, v) => {
    if (typeof v !== 'string') return v;
    if (isSingleTemplateString(v)) {
      const dumped = v.replace(/\${{(.+)}}/g, '${{ ( $1 ) | dump }}');
      const out = env.renderString(dumped, context);
      return out === '' ? undefined : JSON.parse(out);
    }
    return env.renderString(v, context);
  });
}

async function entityErrors(entity) {
  const policy = EntityPolicies.allOf([
    new DefaultNamespaceEntityPolicy(),
    new NoForeignRootFieldsEntityPolicy(),
    new FieldFormatEntityPolicy(),
    new SchemaValidEntityPolicy(),
  ]);
  const errors = [];
  try {
    await policy.enforce(entity);
    if ((await templateEntityV1beta3Validator.check(entity)) !== true) {
      errors.push('not a scaffolder.backstage.io/v1beta3 Template');
    }
  } catch (e) {
    errors.push(String(e.message ?? e));
  }
  return errors;
}

function formErrors(pages, form) {
  // ui:* keys are react-jsonschema-form's, not JSON Schema's.
  const ajv = new Ajv({ strict: false, allErrors: true, useDefaults: true });
  const errors = [];
  for (const page of pages) {
    const validate = ajv.compile({ type: 'object', ...page });
    if (!validate(form)) {
      for (const e of validate.errors) errors.push(`${page.title}: ${e.instancePath} ${e.message}`);
    }
  }
  return errors;
}

async function run({ template, skeleton, form }) {
  const result = { entityErrors: await entityErrors(template), formErrors: [], files: {} };
  result.formErrors = formErrors(template.spec.parameters, form);
  if (result.formErrors.length === 0) {
    const step = template.spec.steps.find(s => s.action === 'fetch:template');
    const input = renderValue(step.input, { parameters: form });
    const context = { values: input.values };
    const path = `${input.targetPath}/${env.renderString(skeleton.path, context)}`;
    result.files[path] = env.renderString(skeleton.text, context);
    result.steps = template.spec.steps.map(s => ({
      id: s.id,
      input: renderValue(s.input, { parameters: form }),
    }));
  }
  return result;
}

const requests = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const results = [];
for (const request of requests) results.push(await run(request));
process.stdout.write(JSON.stringify(results));

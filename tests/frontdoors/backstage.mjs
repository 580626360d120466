// Checks a generated Backstage Software Template the way Backstage does, and runs it for
// sample requests with Backstage's own scaffolder.
//
//   node backstage.mjs <requests.json>
//   requests: {hosts: [git host, ...], runs: [{template, baseUrl, form}, ...]}
//   prints: [{entityErrors, formErrors, error, inputs, pullRequest, registered, output,
//             parsed, catalogErrors}, ...]
//
// Entity checks: the catalog's default entity policies and the scaffolder's
// templateEntityV1beta3Validator (what the catalog runs on a registered Template).
// Form: each parameter page's JSON Schema with ajv and defaults filled in, as
// react-jsonschema-form does before the template runs.
// Run: plugin-scaffolder-backend's NunjucksWorkflowRunner, the engine behind every task
// (it renders each step's input with the scaffolder's templating and checks it against
// the action's input schema), with the real actions: fetch:template (fetching the
// skeleton next to the template, as for a template registered from a file URL),
// catalog:write, catalog:register and publish:github:pull-request. Only what leaves the
// process is replaced: GitHub's API (the pull request's files and fields are recorded)
// and the catalog's (locations are recorded; reading the new file fails, as it does until
// the pull request is merged). The runner is internal to the plugin, so it is loaded by
// its path in the version package-lock.json pins.
// Each file of the pull request is parsed as the catalog parses it (the yaml package, YAML
// 1.2), and a catalog-info.yaml must pass the catalog's checks of a Resource entity.
import { mkdtempSync, rmSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  DefaultNamespaceEntityPolicy,
  EntityPolicies,
  FieldFormatEntityPolicy,
  NoForeignRootFieldsEntityPolicy,
  SchemaValidEntityPolicy,
  resourceEntityV1alpha1Validator,
} from '@backstage/catalog-model';
import { ConfigReader } from '@backstage/config';
import { NotFoundError } from '@backstage/errors';
import { ScmIntegrations } from '@backstage/integration';
import {
  createCatalogRegisterAction,
  createCatalogWriteAction,
  createFetchTemplateAction,
} from '@backstage/plugin-scaffolder-backend';
import { createPublishGithubPullRequestAction } from '@backstage/plugin-scaffolder-backend-module-github';
import { templateEntityV1beta3Validator } from '@backstage/plugin-scaffolder-common';
import Ajv from 'ajv';
import YAML from 'yaml';

const require = createRequire(import.meta.url);
const { NunjucksWorkflowRunner } = require(
  join(
    dirname(require.resolve('@backstage/plugin-scaffolder-backend')),
    'scaffolder/tasks/NunjucksWorkflowRunner.cjs.js',
  ),
);

const PULL_REQUEST = { number: 7, base: 'main' };

async function entityErrors(entity, validator = templateEntityV1beta3Validator) {
  const policy = EntityPolicies.allOf([
    new DefaultNamespaceEntityPolicy(),
    new NoForeignRootFieldsEntityPolicy(),
    new FieldFormatEntityPolicy(),
    new SchemaValidEntityPolicy(),
  ]);
  const errors = [];
  try {
    // The policies may fill in defaults (the namespace): they get a copy.
    const checked = (await policy.enforce(structuredClone(entity))) ?? entity;
    if ((await validator.check(checked)) !== true) {
      errors.push(`not a ${entity.apiVersion} ${entity.kind}`);
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

const silent = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silent;
  },
};

const metrics = {
  createCounter: () => ({ add() {} }),
  createHistogram: () => ({ record() {} }),
};

function recorder(action, inputs) {
  return {
    ...action,
    async handler(ctx) {
      inputs[ctx.step.id] = ctx.input;
      return action.handler(ctx);
    },
  };
}

function actions(integrations, config, record) {
  const reader = {
    readUrl: async () => {
      throw new Error('templates are read from files');
    },
  };
  const catalog = {
    async addLocation(location) {
      record.registered.push(location);
      if (location.dryRun) {
        throw new NotFoundError(`${location.target} is not on the target branch yet`);
      }
      return { location: { id: 'new', ...location }, entities: [] };
    },
  };
  const github = {
    async createPullRequest(options) {
      const [change] = options.changes;
      record.pullRequest = {
        owner: options.owner,
        repo: options.repo,
        title: options.title,
        body: options.body,
        head: options.head,
        commit: change.commit,
        files: Object.fromEntries(
          Object.entries(change.files).map(([path, f]) => [
            path,
            Buffer.from(f.content, f.encoding).toString('utf8'),
          ]),
        ),
      };
      const url = `https://github.com/${options.owner}/${options.repo}/pull/${PULL_REQUEST.number}`;
      return { data: { base: { ref: PULL_REQUEST.base }, html_url: url, number: PULL_REQUEST.number } };
    },
  };
  const list = [
    createFetchTemplateAction({ reader, integrations }),
    createCatalogWriteAction(),
    createCatalogRegisterAction({ catalog, integrations }),
    createPublishGithubPullRequestAction({
      integrations,
      config,
      githubCredentialsProvider: {
        getCredentials: async () => ({ type: 'token', token: 'unused' }),
      },
      clientFactory: async () => github,
    }),
  ];
  return new Map(list.map(a => [a.id, recorder(a, record.inputs)]));
}

async function execute(template, baseUrl, form, integrations, config) {
  const record = { inputs: {}, registered: [], pullRequest: undefined };
  const registry = actions(integrations, config, record);
  const workingDirectory = mkdtempSync(join(tmpdir(), 'scaffolder-'));
  const runner = new NunjucksWorkflowRunner({
    actionRegistry: {
      get: async id => {
        if (!registry.has(id)) throw new NotFoundError(`no action ${id}`);
        return registry.get(id);
      },
      list: async () => registry,
    },
    integrations,
    workingDirectory,
    logger: silent,
    config,
    metrics,
  });
  const controller = new AbortController();
  try {
    const { output } = await runner.execute({
      taskId: 'task',
      spec: {
        apiVersion: template.apiVersion,
        parameters: form,
        steps: template.spec.steps,
        output: template.spec.output,
        templateInfo: { entityRef: `template:default/${template.metadata.name}`, baseUrl },
        user: { ref: 'user:default/alice' },
      },
      secrets: {},
      isDryRun: false,
      getWorkspaceName: async () => 'task',
      cancelSignal: controller.signal,
      emitLog: async () => {},
      getInitiatorCredentials: async () => ({}),
    });
    return { ...record, output };
  } catch (e) {
    return { ...record, error: String(e.message ?? e) };
  } finally {
    rmSync(workingDirectory, { recursive: true, force: true });
  }
}

async function run({ template, baseUrl, form }, integrations, config) {
  const result = {
    entityErrors: await entityErrors(template),
    formErrors: formErrors(template.spec.parameters, form),
  };
  if (result.formErrors.length === 0) {
    Object.assign(result, await execute(template, baseUrl, form, integrations, config));
  }
  if (result.pullRequest) {
    result.parsed = {};
    result.catalogErrors = {};
    for (const [path, text] of Object.entries(result.pullRequest.files)) {
      result.parsed[path] = YAML.parse(text);
      if (path.endsWith('/catalog-info.yaml')) {
        result.catalogErrors[path] = await entityErrors(
          result.parsed[path],
          resourceEntityV1alpha1Validator,
        );
      }
    }
  }
  return result;
}

const { hosts, runs } = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const config = new ConfigReader({
  integrations: { github: hosts.map(host => ({ host, token: 'unused' })) },
});
const integrations = ScmIntegrations.fromConfig(config);
const results = [];
for (const request of runs) results.push(await run(request, integrations, config));
process.stdout.write(JSON.stringify(results));

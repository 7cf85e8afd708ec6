/**
 * Request validation from spec/openapi.yaml. Each operation's JSON body and query parameters are validated (with
 * defaults applied and query strings coerced) by validators compiled from the spec itself, so the server cannot drift
 * from it.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import YAML from 'yaml';
import { invalid } from '../errors.js';

const SPEC_PATH = fileURLToPath(new URL('../../../../spec/openapi.yaml', import.meta.url));

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: { type?: string; items?: unknown };
  explode?: boolean;
  $ref?: string;
}

export interface OperationValidator {
  body?: ValidateFunction;
  bodyRequired: boolean;
  query?: ValidateFunction;
  arrayParams: string[];
}

function describe(errors: ErrorObject[] | null | undefined, where: string): string {
  const e = errors?.[0];
  if (!e) return `invalid ${where}`;
  const field = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    return `${field ? field + '.' : ''}${missing} is required`;
  }
  if (e.keyword === 'additionalProperties') {
    return `unknown ${where} field '${(e.params as { additionalProperty: string }).additionalProperty}'`;
  }
  return `${field || where} ${e.message}`;
}

function rebase(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rebase);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `openapi${v}` : rebase(v);
  }
  return out;
}

export class OpenApi {
  readonly doc: any;
  /** The document as read (YAML), served at /openapi.yaml. */
  readonly yaml: string;
  private ajvBody = new Ajv({ strict: false, useDefaults: true, allErrors: false, validateFormats: false });
  private ajvQuery = new Ajv({ strict: false, useDefaults: true, coerceTypes: 'array', validateFormats: false });
  private cache = new Map<string, OperationValidator>();

  constructor(specPath = SPEC_PATH) {
    this.yaml = readFileSync(specPath, 'utf8');
    this.doc = YAML.parse(this.yaml);
    this.ajvBody.addSchema(this.doc, 'openapi');
    this.ajvQuery.addSchema(this.doc, 'openapi');
  }

  private resolve<T>(obj: any): T {
    if (obj?.$ref) {
      const parts = String(obj.$ref).replace(/^#\//, '').split('/');
      return parts.reduce((o: any, p) => o[p.replace(/~1/g, '/').replace(/~0/g, '~')], this.doc);
    }
    return obj;
  }

  /** Validators for one operation; `path` is the spec's path template, e.g. `/sandboxes/{sandboxID}`. */
  operation(method: string, path: string): OperationValidator {
    const key = `${method} ${path}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const op = this.doc.paths?.[path]?.[method.toLowerCase()];
    if (!op) throw new Error(`operation ${key} is not in spec/openapi.yaml`);
    const pointer = `openapi#/paths/${path.replace(/~/g, '~0').replace(/\//g, '~1')}/${method.toLowerCase()}`;
    const v: OperationValidator = { bodyRequired: false, arrayParams: [] };
    if (op.requestBody?.content?.['application/json']) {
      v.bodyRequired = !!op.requestBody.required;
      v.body = this.ajvBody.compile({ $ref: `${pointer}/requestBody/content/application~1json/schema` });
    }
    const params: Parameter[] = (op.parameters ?? []).map((p: Parameter) => this.resolve<Parameter>(p));
    const queryParams = params.filter((p) => p.in === 'query');
    if (queryParams.length) {
      const properties: Record<string, unknown> = {};
      const required: string[] = [];
      for (const p of queryParams) {
        // Inline schemas are compiled outside the spec document: point their local refs at it.
        properties[p.name] = rebase(p.schema ?? {});
        if (p.required) required.push(p.name);
        if (this.resolve<{ type?: string }>(p.schema)?.type === 'array') v.arrayParams.push(p.name);
      }
      v.query = this.ajvQuery.compile({ type: 'object', properties, required });
    }
    this.cache.set(key, v);
    return v;
  }

  /** Validates and normalises a JSON body (defaults applied in place). Throws invalid_argument naming the field. */
  validateBody(v: OperationValidator, body: unknown): any {
    if (body === undefined) {
      if (v.bodyRequired) throw invalid('request body is required');
      body = {};
    }
    if (v.body && !v.body(body)) throw invalid(describe(v.body.errors, 'body'));
    return body;
  }

  /** Validates query parameters; comma-separated arrays are split first. */
  validateQuery(v: OperationValidator, query: URLSearchParams): Record<string, any> {
    const out: Record<string, any> = {};
    for (const [k, val] of query) {
      if (v.arrayParams.includes(k)) out[k] = [...(out[k] ?? []), ...val.split(',').filter(Boolean)];
      else out[k] = val;
    }
    if (v.query && !v.query(out)) throw invalid(describe(v.query.errors, 'query parameter'));
    return out;
  }
}

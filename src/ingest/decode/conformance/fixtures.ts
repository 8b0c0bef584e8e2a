// Conformance fixtures: log lines as each gateway writes them in its documented
// default and common configurations, one per shape, each citing the page (and
// version) its shape comes from. Values are made up; field names, nesting, types
// (numbers as strings where the gateway writes strings), wrappers and batches are
// the gateway's. `conformance.test.ts` pins what each becomes, proves that
// flipping a request's outcome never changes whether it is kept, and checks the
// table in docs/gateways/README.md (`conformanceTable`) is current.

import type { AuthEvent } from '../../../domain/auth-event.ts'
import type { PresetName } from '../decoder.ts'
import type { FieldMappingInput } from '../mapping.ts'
import { KEY_UNKNOWN, KEY_V1, KEY_V2 } from '../test-kit.ts'

/** Kong credential ids; the second is registered as acme-payments v2 in the conformance registry. */
export const KONG_CREDENTIAL_V1 = '9e4b2c1a-5d6f-4a8b-9c0d-1e2f3a4b5c6d'
export const KONG_CREDENTIAL_V2 = '4d8e4f32-6c1b-4a6e-9f0d-3b2a1c0e9d8f'

export interface ConformanceFixture {
  preset: PresetName | 'mapping'
  mapping?: FieldMappingInput
  /** Short name of the shape, shown in the table. */
  name: string
  /** Where the shape comes from: doc page and version. */
  source: string
  /** The record: a JSON value (serialised as one line) or a raw line. */
  record: unknown
  /** What it must become: events (checked field by field), skips, or a dead-letter reason. */
  expect: { events?: Partial<AuthEvent>[]; skipped?: number; rejected?: string }
}

const T = '2024-09-19T22:10:39'
const T_MS = Date.parse(`${T}Z`)

// ---------------------------------------------------------------------------
// Kong: kong.log.serialize(), sample log object of
// https://developer.konghq.com/plugins/http-log (Kong Gateway 3.8; same serializer
// for file-log, tcp-log, kafka-log)
// ---------------------------------------------------------------------------

const kongBase = {
  request: {
    id: '2f6946328ffc4946b8c9120704a4a155',
    method: 'GET',
    uri: '/v1/payments?limit=10',
    url: 'https://api.example.com:8443/v1/payments?limit=10',
    size: 118,
    querystring: { limit: '10' },
    headers: { host: 'api.example.com', apikey: KEY_V2, 'user-agent': 'acme-billing/4.2.0' },
  },
  upstream_uri: '/payments?limit=10',
  response: {
    status: 200,
    size: 934,
    headers: { 'x-kong-request-id': '2f6946328ffc4946b8c9120704a4a155', 'x-kong-upstream-latency': '41' },
  },
  latencies: { kong: 1, proxy: 41, request: 43, receive: 0 },
  authenticated_entity: { id: KONG_CREDENTIAL_V2, consumer_id: 'b0b5e7c2-1f4e-4d7a-9c3b-2a1d0e9f8c7b' },
  consumer: {
    id: 'b0b5e7c2-1f4e-4d7a-9c3b-2a1d0e9f8c7b',
    username: 'acme-payments',
    custom_id: 'CRM-004711',
    created_at: 1726000000,
  },
  route: { name: 'payments', paths: ['/v1/payments'] },
  service: { name: 'payments-api', host: 'payments.internal', port: 8080, protocol: 'http' },
  client_ip: '203.0.113.10',
  started_at: T_MS + 123,
  source: 'upstream',
  workspace_name: 'default',
}

const kongHidden = (id: string, credential: string) => ({
  ...kongBase,
  request: {
    ...kongBase.request,
    id,
    headers: { host: 'api.example.com', 'user-agent': 'acme-billing/4.2.0' },
  },
  authenticated_entity: { id: credential, consumer_id: kongBase.consumer.id },
})

const KONG: ConformanceFixture[] = [
  {
    preset: 'kong',
    name: 'key-auth, apikey header (defaults)',
    source:
      'developer.konghq.com/plugins/http-log sample log object; key-auth key_names default [apikey] (Kong 3.8)',
    record: kongBase,
    expect: {
      events: [
        {
          eventId: '2f6946328ffc4946b8c9120704a4a155',
          keyId: 'acme-payments',
          keyVersion: 'v2',
          outcome: 'success',
          clientId: 'acme-payments',
          route: '/v1/payments',
          latencyMs: 43,
          identitySource: 'key_material',
        },
      ],
    },
  },
  {
    preset: 'kong',
    name: 'hide_credentials: credential id registered',
    source:
      'developer.konghq.com/plugins/key-auth config.hide_credentials; authenticated_entity in kong.log.serialize (Kong 3.8)',
    record: kongHidden('3a0c9d8e7f6b5a4c3d2e1f0a9b8c7d6e', KONG_CREDENTIAL_V2),
    expect: {
      events: [
        { keyId: 'acme-payments', keyVersion: 'v2', outcome: 'success', identitySource: 'credential' },
      ],
    },
  },
  {
    preset: 'kong',
    name: 'hide_credentials: other credential, same consumer',
    source:
      'developer.konghq.com/plugins/key-auth config.hide_credentials (Kong 3.8): a consumer with two key-auth credentials',
    record: kongHidden('4b1d0e9f8a7c6b5d4e3f2a1b0c9d8e7f', KONG_CREDENTIAL_V1),
    expect: {
      events: [
        { keyId: 'acme-payments', keyVersion: 'unknown', outcome: 'success', identitySource: 'consumer' },
      ],
    },
  },
  {
    preset: 'kong',
    name: 'key in the query string',
    source: 'developer.konghq.com/plugins/key-auth config.key_in_query (default true) (Kong 3.8)',
    record: {
      ...kongBase,
      request: {
        ...kongBase.request,
        uri: `/v1/payments?apikey=${KEY_V1}`,
        querystring: { apikey: KEY_V1 },
        headers: { host: 'api.example.com' },
      },
      authenticated_entity: undefined,
    },
    expect: { events: [{ keyId: 'acme-payments', keyVersion: 'v1', identitySource: 'key_material' }] },
  },
  {
    preset: 'kong',
    name: 'http-log batch (queue.max_batch_size > 1)',
    source:
      'developer.konghq.com/plugins/http-log: "If the max_batch_size argument > 1, a request is logged as an array of JSON objects" (Kong 3.8)',
    record: [
      kongBase,
      {
        ...kongBase,
        request: { ...kongBase.request, id: '5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b', headers: { apikey: KEY_V1 } },
      },
    ],
    expect: {
      events: [
        { eventId: '2f6946328ffc4946b8c9120704a4a155', keyVersion: 'v2' },
        { eventId: '5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b', keyVersion: 'v1' },
      ],
    },
  },
  {
    preset: 'kong',
    name: 'consumer without credential, plain custom_id',
    source:
      'developer.konghq.com/gateway/entities/consumer (custom_id: an id from another system) (Kong 3.8)',
    record: {
      ...kongBase,
      request: { ...kongBase.request, headers: { host: 'api.example.com' } },
      authenticated_entity: undefined,
    },
    expect: {
      events: [
        {
          keyId: 'acme-payments',
          keyVersion: 'unknown',
          clientId: 'acme-payments',
          identitySource: 'consumer',
        },
      ],
    },
  },
  {
    preset: 'kong',
    name: 'key-auth 401, no key',
    source: 'developer.konghq.com/plugins/key-auth: "No API key found in request" → 401 (Kong 3.8)',
    record: {
      ...kongBase,
      request: { ...kongBase.request, headers: { host: 'api.example.com' } },
      response: { status: 401, headers: {} },
      authenticated_entity: undefined,
      consumer: undefined,
      latencies: { kong: 0, proxy: -1, request: 0 },
    },
    expect: {
      events: [
        { keyId: 'unknown', outcome: 'failure', reason: 'missing_credential', identitySource: 'none' },
      ],
    },
  },
  {
    preset: 'kong',
    name: 'no route matched (404)',
    source: 'Kong router: `{"message":"no Route matched with those values"}` 404 (Kong 3.8)',
    record: {
      request: { id: '6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c', method: 'GET', uri: '/favicon.ico', headers: {} },
      response: { status: 404, headers: {} },
      client_ip: '198.51.100.9',
      started_at: T_MS,
      latencies: { kong: 0, proxy: -1, request: 0 },
    },
    expect: { skipped: 1 },
  },
]

// ---------------------------------------------------------------------------
// Envoy
// ---------------------------------------------------------------------------

const istio = {
  start_time: `${T}.123Z`,
  method: 'POST',
  path: '/v1/payments?idempotency_key=3f2a',
  protocol: 'HTTP/1.1',
  response_code: 200,
  response_flags: '-',
  response_code_details: 'via_upstream',
  connection_termination_details: null,
  upstream_transport_failure_reason: null,
  bytes_received: 512,
  bytes_sent: 934,
  duration: 38,
  upstream_service_time: '36',
  x_forwarded_for: '198.51.100.7',
  user_agent: 'okhttp/4.12.0',
  request_id: 'b6a1c3d2-5e4f-4a7b-9c8d-0e1f2a3b4c5d',
  authority: 'api.example.com',
  upstream_host: '10.0.3.17:8080',
  upstream_cluster: 'outbound|8080||payments.default.svc.cluster.local',
  downstream_remote_address: '10.0.0.12:51234',
  route_name: 'default',
}

const envoyGateway = {
  start_time: `${T}.456Z`,
  method: 'GET',
  'x-envoy-origin-path': `/v1/balance?api_key=${KEY_V1}`,
  protocol: 'HTTP/1.1',
  response_code: 200,
  response_flags: '-',
  response_code_details: 'via_upstream',
  connection_termination_details: '-',
  upstream_transport_failure_reason: '-',
  bytes_received: 0,
  bytes_sent: 120,
  duration: 7,
  'x-envoy-upstream-service-time': '5',
  'x-forwarded-for': '203.0.113.30',
  'user-agent': 'curl/8.4.0',
  'x-request-id': '0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f',
  ':authority': 'api.example.com',
  upstream_host: '10.0.5.2:8080',
  upstream_cluster: 'httproute/default/backend/rule/0',
  route_name: 'httproute/default/backend/rule/0/match/0/api_example_com',
}

const ENVOY: ConformanceFixture[] = [
  {
    preset: 'envoy',
    name: 'Istio JSON, X-Api-Key header kept',
    source:
      'istio.io/latest/docs/tasks/observability/logs/access-log (default JSON keys, Istio 1.2x) + %REQ(X-API-KEY)%',
    record: { ...istio, x_api_key: KEY_V1 },
    expect: {
      events: [
        { keyId: 'acme-payments', keyVersion: 'v1', route: '/v1/payments', identitySource: 'key_material' },
      ],
    },
  },
  {
    preset: 'envoy',
    name: 'Envoy Gateway default JSON, key in query',
    source:
      'gateway.envoyproxy.io/docs/tasks/observability/proxy-observability (default JSON access log, v1.2)',
    record: envoyGateway,
    expect: {
      events: [
        {
          eventId: '0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f',
          keyId: 'acme-payments',
          keyVersion: 'v1',
          route: '/v1/balance',
          userAgent: 'curl/8.4.0',
          sourceAddress: '203.0.113.30',
          latencyMs: 7,
          identitySource: 'key_material',
        },
      ],
    },
  },
  {
    preset: 'envoy',
    name: 'jwt_authn: subject only (string numbers)',
    source:
      'envoyproxy.io/docs/envoy/v1.31 jwt_authn payload_in_metadata + %DYNAMIC_METADATA(envoy.filters.http.jwt_authn:payload:sub)%',
    record: { ...istio, response_code: '200', duration: '12', jwt_sub: 'svc-reporting' },
    expect: { events: [{ keyId: 'svc-reporting', status: 200, latencyMs: 12, identitySource: 'principal' }] },
  },
  {
    preset: 'envoy',
    name: 'jwt_authn: expired token',
    source: 'envoyproxy.io/docs/envoy/v1.31 response code details: jwt_authn_access_denied{Jwt_is_expired}',
    record: {
      ...istio,
      response_code: 401,
      response_code_details: 'jwt_authn_access_denied{Jwt_is_expired}',
      authorization: `Bearer ${KEY_UNKNOWN}`,
    },
    expect: {
      events: [{ keyId: 'unknown', outcome: 'failure', reason: 'expired', identitySource: 'key_material' }],
    },
  },
  {
    preset: 'envoy',
    name: 'no route (404 route_not_found)',
    source: 'envoyproxy.io/docs/envoy/v1.31 response flags NR, details route_not_found',
    record: {
      ...istio,
      path: '/healthz',
      response_code: 404,
      response_flags: 'NR',
      response_code_details: 'route_not_found',
    },
    expect: { skipped: 1 },
  },
]

// ---------------------------------------------------------------------------
// NGINX
// ---------------------------------------------------------------------------

const NGINX: ConformanceFixture[] = [
  {
    preset: 'nginx',
    name: 'escape=json, time=$time_iso8601, strings',
    source:
      'nginx.org/en/docs/http/ngx_http_log_module.html log_format escape=json (1.11.8+); variables $time_iso8601 $request_time',
    record: {
      time: `${T}+00:00`,
      remote_addr: '192.0.2.44',
      request: 'GET /v2/orders?page=2 HTTP/1.1',
      status: '200',
      body_bytes_sent: '612',
      request_time: '0.012',
      http_referer: '',
      http_user_agent: 'acme-shop/5.1',
      http_x_api_key: KEY_V1,
    },
    expect: {
      events: [
        {
          time: T_MS,
          keyId: 'acme-payments',
          keyVersion: 'v1',
          method: 'GET',
          route: '/v2/orders',
          latencyMs: 12,
          identitySource: 'key_material',
        },
      ],
    },
  },
  {
    preset: 'nginx',
    name: 'API gateway: $api_client_name, 403',
    source:
      'nginx.com/blog/deploying-nginx-plus-as-an-api-gateway-part-1 (map $http_apikey $api_client_name; 403 for a client not allowed)',
    record: {
      time_iso8601: `${T}+00:00`,
      request_id: '7c4a8d09ca3762af61e59520943dc264',
      remote_addr: '192.0.2.45',
      request_method: 'DELETE',
      uri: '/api/warehouse/inventory/item/7',
      status: '403',
      request_time: '0.000',
      api_client_name: 'client_one',
      http_apikey: KEY_UNKNOWN,
    },
    expect: {
      events: [
        {
          keyId: 'client_one',
          clientId: 'client_one',
          outcome: 'failure',
          reason: 'insufficient_scope',
          identitySource: 'client_name',
        },
      ],
    },
  },
  {
    preset: 'nginx',
    name: 'key only in $request_uri',
    source: 'nginx.org ngx_http_core_module $request_uri ("full original request URI (with arguments)")',
    record: {
      time_iso8601: `${T}+00:00`,
      remote_addr: '192.0.2.46',
      request_method: 'GET',
      request_uri: `/v2/orders?key=${KEY_V2}`,
      status: 200,
      request_time: 0.004,
    },
    expect: { events: [{ keyVersion: 'v2', route: '/v2/orders', identitySource: 'key_material' }] },
  },
  {
    preset: 'nginx',
    name: 'json_combined, basic auth user, time_local',
    source:
      'nginx.org ngx_http_log_module predefined "combined" fields as JSON; ngx_http_auth_basic_module $remote_user',
    record: {
      time_local: '19/Sep/2024:22:10:39 +0000',
      remote_addr: '192.0.2.47',
      remote_user: 'ops-bot',
      request: 'POST /admin/reindex HTTP/1.1',
      status: 204,
      body_bytes_sent: 0,
      http_referer: '-',
      http_user_agent: 'ops-bot/1.0',
    },
    expect: {
      events: [{ keyId: 'ops-bot', method: 'POST', route: '/admin/reindex', identitySource: 'principal' }],
    },
  },
  {
    preset: 'nginx',
    name: 'API gateway: no key (401)',
    source:
      'nginx.com/blog/deploying-nginx-plus-as-an-api-gateway-part-1 (if ($http_apikey = "") { return 401; })',
    record: {
      time_iso8601: `${T}+00:00`,
      remote_addr: '192.0.2.48',
      request_method: 'GET',
      uri: '/api/warehouse/pricing/item/7',
      status: '401',
      api_client_name: '',
      http_apikey: '',
    },
    expect: { events: [{ keyId: 'unknown', reason: 'missing_credential', identitySource: 'none' }] },
  },
  {
    preset: 'nginx',
    name: 'health check',
    source: 'nginx.org ngx_http_stub_status_module / a location = /healthz { return 200; }',
    record: {
      time_iso8601: `${T}+00:00`,
      remote_addr: '10.0.0.2',
      request: 'GET /healthz HTTP/1.1',
      status: '200',
    },
    expect: { skipped: 1 },
  },
]

// ---------------------------------------------------------------------------
// AWS API Gateway
// ---------------------------------------------------------------------------

const awsRest = {
  requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
  extendedRequestId: 'BQGRzHQNoAMFzXA=',
  ip: '203.0.113.25',
  caller: '-',
  user: '-',
  requestTime: '19/Sep/2024:22:10:39 +0000',
  httpMethod: 'GET',
  resourcePath: '/pets/{petId}',
  status: '200',
  protocol: 'HTTP/1.1',
  responseLength: '312',
}

const AWS: ConformanceFixture[] = [
  {
    preset: 'aws-apigateway',
    name: 'REST JSON format + API key',
    source:
      'docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html JSON example + $context.identity.apiKeyId/apiKey (2024)',
    record: { ...awsRest, apiKeyId: '9x8y7z6w5v', apiKey: KEY_V1, responseLatency: '27' },
    expect: {
      events: [{ keyId: 'acme-payments', keyVersion: 'v1', time: T_MS, identitySource: 'key_material' }],
    },
  },
  {
    preset: 'aws-apigateway',
    name: 'API key id only',
    source:
      'docs.aws.amazon.com/apigateway api-gateway-variables-for-access-logging: $context.identity.apiKeyId (2024)',
    record: { ...awsRest, apiKeyId: '9x8y7z6w5v' },
    expect: { events: [{ keyId: '9x8y7z6w5v', identitySource: 'key_id' }] },
  },
  {
    preset: 'aws-apigateway',
    name: 'Lambda authorizer principalId, apiKeyId "-"',
    source:
      'docs.aws.amazon.com/apigateway api-gateway-variables-for-access-logging: $context.authorizer.principalId (2024)',
    record: { ...awsRest, apiKeyId: '-', principalId: 'acme-orders' },
    expect: { events: [{ keyId: 'acme-orders', clientId: 'acme-orders', identitySource: 'principal' }] },
  },
  {
    preset: 'aws-apigateway',
    name: 'HTTP API JWT authorizer claims (nested)',
    source:
      'docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html $context.authorizer.claims.property (2024)',
    record: {
      context: {
        requestId: 'Jx8tYhD3oAMEbQw=',
        requestTimeEpoch: T_MS,
        httpMethod: 'POST',
        routeKey: 'POST /orders/{id}',
        status: 201,
        apiId: 'z9y8x7w6v5',
        stage: '$default',
        identity: { sourceIp: '192.0.2.8', userAgent: 'Go-http-client/2.0' },
        authorizer: { claims: { sub: '5f8e2d1c-user', client_id: 'app-1' } },
      },
    },
    expect: {
      events: [
        {
          keyId: '5f8e2d1c-user',
          route: '/orders/{id}',
          gateway: 'aws-apigateway:z9y8x7w6v5/$default',
          identitySource: 'principal',
        },
      ],
    },
  },
  {
    preset: 'aws-apigateway',
    name: 'INVALID_API_KEY (403)',
    source: 'docs.aws.amazon.com/apigateway supported-gateway-response-types: INVALID_API_KEY 403 (2024)',
    record: {
      ...awsRest,
      status: '403',
      apiKeyId: '-',
      apiKey: KEY_UNKNOWN,
      responseType: 'INVALID_API_KEY',
    },
    expect: { events: [{ keyId: 'unknown', reason: 'unknown_key', identitySource: 'key_material' }] },
  },
  {
    preset: 'aws-apigateway',
    name: 'HTTP API default format, no identity',
    source:
      'docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging.html default JSON format (2024)',
    record: {
      requestId: 'Jx8tYhD3oAMEbQx=',
      ip: '192.0.2.9',
      requestTime: '19/Sep/2024:22:10:39 +0000',
      httpMethod: 'GET',
      routeKey: 'GET /status',
      status: '200',
      protocol: 'HTTP/1.1',
      responseLength: '2',
    },
    expect: { skipped: 1 },
  },
]

// ---------------------------------------------------------------------------
// Tyk
// ---------------------------------------------------------------------------

const tykRecord = {
  method: 'GET',
  host: 'api.example.com',
  path: '/orders/42',
  raw_path: '/orders/42',
  content_length: 0,
  user_agent: 'Go-http-client/1.1',
  day: 19,
  month: 9,
  year: 2024,
  hour: 22,
  response_code: 200,
  api_key: KEY_V2,
  timestamp: `${T}.789Z`,
  api_version: 'Non Versioned',
  api_name: 'orders',
  api_id: '3643588ceabb49934de926e8c19d9410',
  org_id: '5a6340321df0e60a79bcfc01',
  oauth_id: '',
  request_time: 31,
  ip_address: '198.51.100.23',
  latency: { total: 31, upstream: 29 },
  tags: ['key-x', 'org-5a6340321df0e60a79bcfc01'],
  alias: 'acme-billing',
  track_path: false,
  expireAt: '2024-10-19T22:10:39.789Z',
}

/** The Kafka pump's message: a subset of the record, `request_time_ms`, and `meta_data` ({env: prod}). */
const kafkaPumpMessage = {
  timestamp: tykRecord.timestamp,
  method: tykRecord.method,
  path: tykRecord.path,
  raw_path: tykRecord.raw_path,
  response_code: tykRecord.response_code,
  alias: tykRecord.alias,
  api_key: tykRecord.api_key,
  api_version: tykRecord.api_version,
  api_name: tykRecord.api_name,
  api_id: tykRecord.api_id,
  org_id: tykRecord.org_id,
  oauth_id: tykRecord.oauth_id,
  raw_request: '',
  request_time_ms: 31,
  raw_response: '',
  ip_address: tykRecord.ip_address,
  host: tykRecord.host,
  content_length: 0,
  user_agent: tykRecord.user_agent,
  tags: tykRecord.tags,
  env: 'prod',
}

const TYK: ConformanceFixture[] = [
  {
    preset: 'tyk',
    name: 'analytics record (all fields)',
    source: 'tyk.io/docs/api-management/tyk-pump "Tyk Analytics Record Fields" (Tyk 5.x)',
    record: tykRecord,
    expect: {
      events: [
        {
          keyId: 'acme-payments',
          keyVersion: 'v2',
          clientId: 'acme-billing',
          identitySource: 'key_material',
        },
      ],
    },
  },
  {
    preset: 'tyk',
    name: 'Kafka pump message, meta_data',
    source:
      'github.com/TykTechnologies/tyk-pump pumps/kafka.go WriteData (master): the message map (timestamp, request_time_ms, tags) plus the meta_data fields',
    record: kafkaPumpMessage,
    expect: {
      events: [
        {
          time: T_MS + 789,
          keyId: 'acme-payments',
          keyVersion: 'v2',
          clientId: 'acme-billing',
          latencyMs: 31,
          route: '/orders/42',
          identitySource: 'key_material',
        },
      ],
    },
  },
  {
    preset: 'tyk',
    name: 'Kafka pump message, @timestamp (early pumps)',
    source:
      'github.com/TykTechnologies/tyk-pump pumps/kafka.go as first released: "@timestamp", no tags, no meta_data',
    record: (() => {
      const { timestamp, tags, env, ...rest } = kafkaPumpMessage
      return { '@timestamp': timestamp, ...rest }
    })(),
    expect: {
      events: [{ time: T_MS + 789, keyVersion: 'v2', latencyMs: 31, identitySource: 'key_material' }],
    },
  },
  {
    preset: 'tyk',
    name: 'stdout pump wrapper (format json)',
    source:
      'github.com/TykTechnologies/tyk-pump pumps/stdout.go: logrus JSON, log_field_name default "tyk-analytics-record" (pump 1.x)',
    record: { level: 'info', msg: '', time: `${T}Z`, 'tyk-analytics-record': tykRecord },
    expect: { events: [{ keyVersion: 'v2', time: T_MS + 789, identitySource: 'key_material' }] },
  },
  {
    preset: 'tyk',
    name: 'stdout pump, renamed field, request_time_ms',
    source: 'tyk-pump pumps/stdout.go before 1.6 (request_time_ms) with meta.log_field_name set',
    record: {
      level: 'info',
      msg: '',
      time: `${T}Z`,
      analytics: { ...tykRecord, request_time: undefined, latency: undefined, request_time_ms: 30 },
    },
    expect: { events: [{ keyVersion: 'v2', latencyMs: 30 }] },
  },
  {
    preset: 'tyk',
    name: 'keyless API (00000000)',
    source:
      'tyk.io/docs/tyk-dashboard-analytics/traffic-per-token: "The key 00000000 is an empty token, or an open-request"',
    record: { ...tykRecord, api_key: '00000000', alias: '', tags: [] },
    expect: { skipped: 1 },
  },
  {
    preset: 'tyk',
    name: 'error before the key was read (00000000, 401)',
    source:
      'tyk.io/docs/tyk-dashboard-analytics/traffic-per-token ("a request generates an error before we can identify the API key")',
    record: { ...tykRecord, api_key: '00000000', alias: '', tags: [], response_code: 401 },
    expect: { events: [{ keyId: 'unknown', reason: 'missing_credential', identitySource: 'none' }] },
  },
  {
    preset: 'tyk',
    name: 'http pump batch',
    source:
      'tyk.io/docs api-reference ingest-tyk-gateway-analytics-records: "The body is a JSON array of Tyk AnalyticsRecord"',
    record: [tykRecord, { ...tykRecord, api_key: KEY_V1, timestamp: `${T}.900Z` }],
    expect: { events: [{ keyVersion: 'v2' }, { keyVersion: 'v1' }] },
  },
]

// ---------------------------------------------------------------------------
// Traefik
// ---------------------------------------------------------------------------

const traefikBase = {
  ClientAddr: '203.0.113.77:52044',
  ClientHost: '203.0.113.77',
  ClientPort: '52044',
  ClientUsername: '-',
  DownstreamContentSize: 512,
  DownstreamStatus: 200,
  Duration: 18235000,
  OriginContentSize: 512,
  OriginDuration: 17010000,
  OriginStatus: 200,
  Overhead: 1225000,
  RequestAddr: 'api.example.com',
  RequestContentSize: 0,
  RequestCount: 42,
  RequestHost: 'api.example.com',
  RequestMethod: 'GET',
  RequestPath: '/v1/invoices',
  RequestPort: '-',
  RequestProtocol: 'HTTP/1.1',
  RequestScheme: 'https',
  RetryAttempts: 0,
  RouterName: 'invoices@docker',
  ServiceName: 'invoices@docker',
  StartLocal: `${T}.250120755Z`,
  StartUTC: `${T}.250120755Z`,
  entryPointName: 'websecure',
  level: 'info',
  msg: '',
  time: `${T}Z`,
}

const TRAEFIK: ConformanceFixture[] = [
  {
    preset: 'traefik',
    name: 'BasicAuth, default headers drop',
    source:
      'doc.traefik.io/traefik/observability/access-logs (fields.headers.defaultMode default drop; ClientUsername) (v3.x)',
    record: { ...traefikBase, ClientUsername: 'billing-bot' },
    expect: {
      events: [
        { keyId: 'billing-bot', clientId: 'billing-bot', latencyMs: 18.235, identitySource: 'principal' },
      ],
    },
  },
  {
    preset: 'traefik',
    name: 'X-Api-Key header kept',
    source: 'doc.traefik.io/traefik/observability/access-logs fields.headers.names: X-Api-Key: keep (v3.x)',
    record: { ...traefikBase, 'request_X-Api-Key': KEY_V1, 'request_User-Agent': 'acme-invoicer/2.3.1' },
    expect: {
      events: [{ keyVersion: 'v1', userAgent: 'acme-invoicer/2.3.1', identitySource: 'key_material' }],
    },
  },
  {
    preset: 'traefik',
    name: 'key in RequestPath query',
    source: 'doc.traefik.io/traefik/observability/access-logs RequestPath (with query) (v3.x)',
    record: { ...traefikBase, RequestPath: `/v1/invoices?access_token=${KEY_V2}` },
    expect: { events: [{ keyVersion: 'v2', route: '/v1/invoices', identitySource: 'key_material' }] },
  },
  {
    preset: 'traefik',
    name: 'Authorization redacted, BasicAuth 401',
    source:
      'doc.traefik.io/traefik/observability/access-logs fields.headers.names: Authorization: redact (v3.x)',
    record: {
      ...traefikBase,
      DownstreamStatus: 401,
      OriginStatus: 0,
      request_Authorization: 'REDACTED',
      ClientUsername: '-',
    },
    expect: { events: [{ keyId: 'unknown', reason: 'missing_credential', identitySource: 'none' }] },
  },
  {
    preset: 'traefik',
    name: 'no router (404)',
    source: 'doc.traefik.io/traefik/routing/routers: no matching router → 404 (v3.x)',
    record: {
      ...traefikBase,
      RequestPath: '/wp-login.php',
      DownstreamStatus: 404,
      OriginStatus: 0,
      RouterName: undefined,
      ServiceName: undefined,
    },
    expect: { skipped: 1 },
  },
]

// ---------------------------------------------------------------------------
// canonical and mapping
// ---------------------------------------------------------------------------

const CANONICAL: ConformanceFixture[] = [
  {
    preset: 'canonical',
    name: 'canonical event (README field table)',
    source: "keyshift README 'The canonical event'",
    record: {
      eventId: 'e-1',
      time: T_MS,
      keyId: 'acme-payments',
      keyVersion: 'v1',
      status: 200,
      clientId: 'acme-batch',
      gateway: 'gw-eu-1',
    },
    expect: { events: [{ keyId: 'acme-payments', keyVersion: 'v1', identitySource: 'key_id' }] },
  },
]

export const MAPPING_EXAMPLE: FieldMappingInput = {
  fields: {
    event_id: 'req.id',
    time: 'ts',
    key_material: ['req.headers["x-api-key"]', 'req.url?api_key'],
    principal: 'auth.sub',
    status: 'res.code',
    route: 'req.url',
  },
  time_format: 'epoch_s',
}

const MAPPING: ConformanceFixture[] = [
  {
    preset: 'mapping',
    mapping: MAPPING_EXAMPLE,
    name: 'key in a query parameter (path?param)',
    source: "keyshift README 'mapping' (path syntax `req.url?api_key`)",
    record: { ts: T_MS / 1000, req: { id: 'r-1', url: `/v3/things?api_key=${KEY_V1}` }, res: { code: 200 } },
    expect: { events: [{ keyVersion: 'v1', route: '/v3/things', identitySource: 'key_material' }] },
  },
  {
    preset: 'mapping',
    mapping: MAPPING_EXAMPLE,
    name: 'principal only',
    source: "keyshift README 'mapping' (fields.principal)",
    record: {
      ts: T_MS / 1000,
      req: { id: 'r-2', url: '/v3/things' },
      auth: { sub: 'user-9' },
      res: { code: 200 },
    },
    expect: { events: [{ keyId: 'user-9', identitySource: 'principal' }] },
  },
]

export const CONFORMANCE_FIXTURES: readonly ConformanceFixture[] = [
  ...KONG,
  ...ENVOY,
  ...NGINX,
  ...AWS,
  ...TYK,
  ...TRAEFIK,
  ...CANONICAL,
  ...MAPPING,
]

// Two corpora for the scrubber, used by its tests and by docs/secrets.md: key
// material in the formats real services issue (every one must be fingerprinted)
// and the identifiers a rotation needs to see (user agents, routes, hostnames,
// client ids: every one must be kept). The keys are well-formed fakes: the right
// prefix, length and alphabet, random-looking bodies, no live credential.

/**
 * Where a key is recognisable. `anywhere`: by its shape alone, bare in free text,
 * in any field, in a path. `credential`: only where the context says it is a
 * credential (a credential-named field, header or query parameter, `Bearer`,
 * `Basic`): UUID-shaped keys and 32-hex keys have the exact shape of request ids,
 * trace ids and resource ids, so their shape alone cannot tell them apart.
 */
export type KeyReach = 'anywhere' | 'credential'

export interface KeySample {
  readonly kind: string
  readonly value: string
  readonly reach: KeyReach
}

export const KEY_CORPUS: readonly KeySample[] = [
  // Stripe
  {
    kind: 'stripe sk_live',
    value: 'sk_live_51NzQpLKdIwHu7ix0aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789abcdEFGHij',
    reach: 'anywhere',
  },
  { kind: 'stripe sk_test', value: 'sk_test_4eC39HqLyjWDarjtT1zdp7dc', reach: 'anywhere' },
  {
    kind: 'stripe rk_live',
    value: 'rk_live_51NzQpLKdIwHu7ix0Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1',
    reach: 'anywhere',
  },
  { kind: 'stripe rk_test', value: 'rk_test_51NzQpLKdIwHu7ix0Qa2Ws3Ed4Rf5Tg6Yh7Uj8Ik9', reach: 'anywhere' },
  { kind: 'stripe whsec', value: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', reach: 'anywhere' },
  // AWS
  { kind: 'aws access key id AKIA', value: 'AKIAIOSFODNN7EXAMPLE', reach: 'anywhere' },
  { kind: 'aws access key id AKIA (2)', value: 'AKIA2E0A8F3B244C9986', reach: 'anywhere' },
  { kind: 'aws temporary key id ASIA', value: 'ASIAY34FZKBOKMUTVV7A', reach: 'anywhere' },
  { kind: 'aws secret access key', value: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', reach: 'anywhere' },
  { kind: 'aws secret access key (2)', value: 'je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY', reach: 'anywhere' },
  { kind: 'aws secret access key (3)', value: 'Tq8vLw3Zr+Nb5Yk2Hs9Jd4Fg7Xc1Vm6Pa0Qe3Wu8', reach: 'anywhere' },
  // GitHub
  { kind: 'github ghp_', value: 'ghp_16C7e42F292c6912E7710c838347Ae178B4a', reach: 'anywhere' },
  { kind: 'github gho_', value: 'gho_0Tz8VqK3mX9pL2wN7rJ5yH4cB6dF1gS8aE3u', reach: 'anywhere' },
  { kind: 'github ghs_', value: 'ghs_xK2pQ9vB7nM4zL8wR3tY6hJ1cD5fG0sA2eU9', reach: 'anywhere' },
  { kind: 'github ghu_', value: 'ghu_Lm3Nb6Vc9Xz2As5Df8Gh1Jk4Qw7Er0Ty3Ui6', reach: 'anywhere' },
  {
    kind: 'github ghr_',
    value: 'ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C46812d16D5B1A9Dc86A1498',
    reach: 'anywhere',
  },
  {
    kind: 'github fine-grained github_pat_',
    value: 'github_pat_11ABCDEFG0aBcDeFgHiJkL_mNoPqRsTuVwXyZ0123456789aBcDeFgHiJkLmNoPqRsTuVwXyZ01234567',
    reach: 'anywhere',
  },
  // Slack
  {
    kind: 'slack bot xoxb-',
    value: 'xoxb-2048193847-4096283746125-aBcDeFgHiJkLmNoPqRsTuVwX',
    reach: 'anywhere',
  },
  {
    kind: 'slack user xoxp-',
    value: 'xoxp-2048193847-2048193848-4096283746125-0123456789abcdef0123456789abcdef',
    reach: 'anywhere',
  },
  {
    kind: 'slack app xapp-',
    value:
      'xapp-1-A0123456789-4096283746125-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    reach: 'anywhere',
  },
  {
    kind: 'slack refresh xoxe-',
    value: 'xoxe-1-My0xLTIwNDgtNDA5NjI4Mzc0NjEyNS0yMDQ4MTkzODQ3',
    reach: 'anywhere',
  },
  // Google
  { kind: 'google AIza', value: 'AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY', reach: 'anywhere' },
  { kind: 'google AIza (2)', value: 'AIzaSyBdVl-cTICSwYKrZ95SuvNw7dbMuDt1KG0', reach: 'anywhere' },
  { kind: 'google oauth ya29.', value: 'ya29.a0AfB_byC3xK9pL2wN7rJ5yH4cB6dF1gS8aE3uQ0vT', reach: 'anywhere' },
  // Others with a well-known prefix
  { kind: 'gitlab glpat-', value: 'glpat-xXy1Zz2AaBb3CcDd4EeF', reach: 'anywhere' },
  {
    kind: 'openai sk-proj-',
    value: 'sk-proj-Ab3De5Fg7Hj9Kl1Mn3Pq5Rs7Tu9Vw1Xy3Za5Bc7De9Fg1Hj3Kl5Mn7Pq9Rs1Tu3',
    reach: 'anywhere',
  },
  {
    kind: 'anthropic sk-ant-',
    value: 'sk-ant-api03-Ab3De5Fg7Hj9Kl1Mn3Pq5Rs7Tu9Vw1Xy3Za5Bc7De9Fg1Hj3Kl5Mn7Pq9Rs1Tu3-AbCdEfAA',
    reach: 'anywhere',
  },
  { kind: 'hugging face hf_', value: 'hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ01234567', reach: 'anywhere' },
  { kind: 'npm npm_', value: 'npm_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789', reach: 'anywhere' },
  {
    kind: 'sendgrid SG.',
    value: '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',
    reach: 'anywhere',
  },
  { kind: 'shopify shpat_', value: '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', reach: 'anywhere' },
  { kind: 'mailgun key-', value: 'key-3ax6xnjp29jd6fds4gc373sgvjxteol0', reach: 'anywhere' },
  { kind: 'mailchimp <hex>-usN', value: '4f8a2b9c1d7e3f6a0b5c8d2e9f1a4b7c-us21', reach: 'anywhere' },
  { kind: 'keyshift ks_live_', value: 'ks_live_CANARY7d3f9a1b2c4e5f60718293a4b5c6d7e8', reach: 'anywhere' },
  // JWTs
  {
    kind: 'jwt HS256',
    value:
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
    reach: 'anywhere',
  },
  {
    kind: 'jwt RS256 (short claims)',
    value: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhY21lIn0.c2lnbmF0dXJlLWJ5dGVzLWJhc2U2NHVybC1lbmNvZGVk',
    reach: 'anywhere',
  },
  // Long random keys without a prefix
  { kind: 'random hex 40', value: '7c4a8d09ca3762af61e59520943dc26494f8941b', reach: 'anywhere' },
  {
    kind: 'random hex 48 (Tyk)',
    value: '5a6340321df0e60a79bcfc01e3b5a3f2c8d94b7e8f0a1b2c',
    reach: 'anywhere',
  },
  {
    kind: 'random hex 64',
    value: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
    reach: 'anywhere',
  },
  { kind: 'random base64 32', value: 'Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==', reach: 'anywhere' },
  { kind: 'random base64 44', value: 'q3T9pW+2vXz7Lk4Jm8Nh1Bg6Fd5Sa0Qe/Rw3Ty8Ui2Op=', reach: 'anywhere' },
  { kind: 'random base64url 43', value: 'kP9_xV2-mQ7zL4wR8tN1yH6cB3dF0gS5aE2uJ9vT0oI', reach: 'anywhere' },
  { kind: 'random base62 24', value: 'aB3dE5fG7hJ9kL1mN3pQ5rS7', reach: 'anywhere' },
  { kind: 'random base62 32', value: 'Xk29vLq8TzRm4NpW7cYb1HsD6fGj0AeU', reach: 'anywhere' },
  { kind: 'random base62 40', value: 'p0Q9r8S7t6U5v4W3x2Y1z0A9b8C7d6E5f4G3h2I1', reach: 'anywhere' },
  { kind: 'random letters only 32', value: 'QwErTyUiOpAsDfGhJkLzXcVbNmQaZwSx', reach: 'anywhere' },
  // Shapes shared with identifiers: recognised only in a credential context
  {
    kind: 'uuid-shaped key (Heroku style)',
    value: '01234567-89ab-4cde-8f01-23456789abcd',
    reach: 'credential',
  },
  { kind: 'uuid-shaped key (2)', value: 'c8a9f1e2-7b3d-4e6f-a5c0-9d8e7f6a5b4c', reach: 'credential' },
  {
    kind: 'hex 32 key (Datadog/Twilio style)',
    value: '4f8a2b9c1d7e3f6a0b5c8d2e9f1a4b7c',
    reach: 'credential',
  },
  { kind: 'short password', value: 'hunter2', reach: 'credential' },
  { kind: 'short numeric token', value: '987654', reach: 'credential' },
]

/** A key in a context: the text around it, and the field or header it sits in. */
export interface KeyContext {
  readonly name: string
  readonly reach: KeyReach
  /** Free text holding the key (a log line, a header dump, a URL). */
  text(key: string): string
  /** A parsed document holding the key. */
  doc(key: string): unknown
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64')

export const KEY_CONTEXTS: readonly KeyContext[] = [
  {
    name: 'bare in prose and in a non-credential field',
    reach: 'anywhere',
    text: (k) => `client presented ${k} at 2026-12-07T07:00:00Z from 203.0.113.10`,
    doc: (k) => ({ note: k, msg: `rotated ${k} today` }),
  },
  {
    // Percent-encoded, as a client must send a `/` or `+` inside a path segment.
    name: 'in a route path segment',
    reach: 'anywhere',
    text: (k) => `GET /v1/keys/${encodeURIComponent(k)}/revoke HTTP/1.1`,
    doc: (k) => ({ route: `/v1/keys/${encodeURIComponent(k)}/revoke` }),
  },
  {
    name: 'credential header',
    reach: 'credential',
    text: (k) => `X-Api-Key: ${k}`,
    doc: (k) => ({ headers: { 'x-api-key': k, host: 'api.example.com' } }),
  },
  {
    name: 'Authorization: Bearer',
    reach: 'credential',
    text: (k) => `Authorization: Bearer ${k}`,
    doc: (k) => ({ request: { headers: { authorization: `Bearer ${k}` } } }),
  },
  {
    name: 'Authorization: Basic',
    reach: 'credential',
    text: (k) => `curl -H "Authorization: Basic ${b64(`acme:${k}`)}" https://api.example.com`,
    doc: (k) => ({ request: { headers: { Authorization: `Basic ${b64(`${k}:`)}` } } }),
  },
  {
    name: 'query string',
    reach: 'credential',
    text: (k) => `GET https://api.example.com/v1/charges?limit=10&api_key=${encodeURIComponent(k)} 401`,
    doc: (k) => ({ uri: `/v1/charges?access_token=${encodeURIComponent(k)}&limit=10` }),
  },
  {
    name: 'JSON credential field',
    reach: 'credential',
    text: (k) => `{"user":"acme","client_secret":"${k}","pin":1}`,
    doc: (k) => ({ auth: { type: 'key-auth', key_id: 'acme', key: k }, password: k }),
  },
]

/** Identifiers a rotation needs: they must come out of the scrubber unchanged. */
export const KEEP_CORPUS: Readonly<Record<string, readonly string[]>> = {
  'user agents: browsers': [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.6045.199 Safari/537.36',
    'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0',
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Firefox/115.0',
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1',
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91',
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0',
    'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36',
    'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36',
    'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
    'Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36',
  ],
  'user agents: command-line and HTTP libraries': [
    'curl/8.4.0',
    'curl/7.88.1',
    'Wget/1.21.4',
    'Wget/1.21.3 (linux-gnu)',
    'okhttp/4.12.0',
    'okhttp/3.14.9',
    'axios/1.6.2',
    'axios/0.27.2',
    'node-fetch/1.0 (+https://github.com/bitinn/node-fetch)',
    'undici',
    'python-requests/2.31.0',
    'python-httpx/0.25.2',
    'Python/3.11 aiohttp/3.9.1',
    'Python-urllib/3.11',
    'Go-http-client/1.1',
    'Go-http-client/2.0',
    'Java/17.0.9',
    'Java-http-client/17.0.9',
    'Apache-HttpClient/4.5.14 (Java/17.0.9)',
    'Apache-HttpClient/5.2.1 (Java/21.0.1)',
    'ReactorNetty/1.1.13',
    'Dalvik/2.1.0 (Linux; U; Android 13; Pixel 7 Build/TQ3A.230901.001)',
    'RestSharp/110.2.0.0',
    'Microsoft.Net.Http.HttpClient/8.0',
    'PowerShell/7.4.0 (Microsoft Windows 10.0.22631; en-US)',
    'Ruby',
    'Faraday v2.7.12',
    'GuzzleHttp/7',
    'PostmanRuntime/7.36.0',
    'insomnia/2023.5.8',
    'HTTPie/3.2.2',
    'grpc-java-netty/1.60.0',
    'grpc-go/1.59.0',
  ],
  'user agents: SDKs': [
    'aws-sdk-js/3.478.0 ua/2.0 os/linux#5.15.0-1051-aws lang/js md/nodejs#20.10.0 api/s3#3.478.0',
    'aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21.5 md/GOOS#linux md/GOARCH#amd64 api/dynamodb#1.26.6',
    'Boto3/1.34.11 md/Botocore#1.34.11 ua/2.0 os/linux#6.1.66 md/arch#x86_64 lang/python#3.11.6 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.11',
    'aws-sdk-java/2.21.46 Linux/5.10.201-191.748.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.9+8-LTS Java/17.0.9 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy',
    'Stripe/v1 NodeBindings/14.10.0',
    'stripe-node/14.10.0',
    'Stripe/v1 PythonBindings/7.9.0',
    'stripe-java/24.8.0',
    'google-api-nodejs-client/9.4.1',
    'google-cloud-sdk gcloud/458.0.1 command/gcloud.auth.login',
    'azsdk-net-Storage.Blobs/12.19.1 (.NET 8.0.0; Microsoft Windows 10.0.22631)',
    'azsdk-js-storageblob/12.17.0 core-rest-pipeline/1.12.3 Node/v20.10.0 OS/(x64-Linux-5.15.0-1051-azure)',
    'octokit-rest.js/20.0.2 octokit-core.js/5.0.2 Node.js/20',
    'twilio-node/4.19.3 (linux x64) node/v20.10.0',
    'Slackbot 1.0 (+https://api.slack.com/robots)',
    'Terraform/1.6.6 (+https://www.terraform.io) terraform-provider-aws/5.31.0 (+https://registry.terraform.io/providers/hashicorp/aws)',
    'kubectl/v1.29.0 (linux/amd64) kubernetes/3f7a50f',
    'Datadog Agent/7.49.1',
  ],
  'user agents: service prefixes': [
    'svc-06/okhttp/4.12.0',
    'svc-17/okhttp/4.12.0',
    'payments-svc-06/okhttp/4.12.0',
    'billing-worker/2.3.1 okhttp/4.12.0',
    'checkout-api/1.42.0 (build 2026.12.01) axios/1.6.2',
    'ledger-sync/0.9.12 python-requests/2.31.0',
    'acme-payments/3.1.0 (+https://acme.example) Go-http-client/1.1',
    'svc-06/stripe-node/14.10.0',
    'partner-acme/2.0.0-rc.1/okhttp/4.12.0',
    'billing-worker-prod-7f9c8d6b5-x2k9p/okhttp/4.12.0',
    'com.acme.payments/4.12.0 (Android 14; Pixel 8)',
    'AcmeMobile/5.3.0 (iPhone; iOS 17.2; Scale/3.00)',
  ],
  'user agents: probes and infrastructure': [
    'kube-probe/1.29',
    'kube-probe/1.27+',
    'ELB-HealthChecker/2.0',
    'GoogleHC/1.0',
    'Prometheus/2.48.1',
    'Envoy/HC',
    'Consul Health Check',
    'Blackbox Exporter/0.24.0',
    'Amazon CloudFront',
    'Amazon-Route53-Health-Check-Service (ref 5f3c9a0e-7b1d-4c2e-9f8a-6d5e4c3b2a10; report http://amzn.to/1vsZADi)',
    'nginx/1.25.3',
    'istio-envoy',
  ],
  routes: [
    '/v1/charges',
    '/v1/customers/cus_NffrFeUfNV2Hib/sources',
    '/v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa/confirm',
    '/v1/charges/ch_3MmlLrLkdIwHu7ix0snN0B15/refunds',
    '/v1/events/evt_1NG8Du2eZvKYlo2CuYpa8OkJ',
    '/api/orders/123456789',
    '/api/v2/users/fb4eecf8-dec2-40ef-b779-16de7e2384c7/profile',
    '/api/v2/accounts/acct_1032D82eZvKYlo2C/balance',
    '/orgs/acme-corp/repos?per_page=100&page=3',
    '/v3/search?q=status%3Aopen+label%3Abug&sort=updated',
    '/graphql',
    '/healthz',
    '/api/v1/keys/acme-payments/versions/v2/readiness',
    '/v2/library/nginx/manifests/1.25.3',
    '/storage/v1/b/acme-backups-eu/o/exports%2F2026-12-06%2Fledger.csv.gz',
    '/2015-03-31/functions/payments-webhook-handler/invocations',
    '/v1/projects/acme-prod-417202/locations/europe-west1/services/checkout',
    '/api/v1/silences/sil_0b5e7c21-f4e4-4d7a-9c3b-2a1d0e9f8c7b',
    '/v1/requests/req_8f7a6b5c4d3e2f1a',
    '/repos/octocat/Hello-World/commits/7fd1a60b01f91b314f59955a4e4d4e80d8edf11d',
  ],
  hostnames: [
    'api.stripe.com',
    'api.example.com',
    'ip-10-0-1-23.eu-west-1.compute.internal',
    'ec2-54-210-167-204.compute-1.amazonaws.com',
    'd111111abcdef8.cloudfront.net',
    'payments-7f9c8d6b5-x2k9p',
    'billing-worker-prod-7f9c8d6b5-x2k9p',
    'kong-eu-west-1a',
    'envoy-ingress-0',
    'gw-01.dc2.acme.internal',
    'checkout.default.svc.cluster.local',
    'acme-payments-prod.us-east-1.elb.amazonaws.com',
    'my-db-instance.c9akciq32.rds.amazonaws.com',
    'acme.s3.eu-west-1.amazonaws.com',
    '203.0.113.10',
    '2001:db8::8a2e:370:7334',
  ],
  'client and request ids': [
    'acme-payments',
    'svc-06',
    'partner-acme-eu',
    'client_8f7a6b5c4d3e2f1a0b9c',
    'cus_NffrFeUfNV2Hib',
    'fb4eecf8-dec2-40ef-b779-16de7e2384c7',
    '2f6946328ffc4946b8c9120704a4a155',
    '1-5759e988-bd862e3fe1be46a994272793',
    '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    '2024-09-19T22:10:39.310Z',
    'payments-api-production',
    'GetCustomerPaymentMethodsRequest',
    'PAYMENTS_API_PRODUCTION_EU_WEST',
  ],
  // What keyshift writes into its own log lines, which the log edge scrubs too.
  "keyshift's own ids": [
    'ntf_3f1d0c9a8b7e6f5a4d3c2b1a09f8e7d6',
    'sil_9f9ca5c1-588a-49b5-a47b-7417d255c803',
    'api:72df782b-1280-488b-b660-5ebdf298c925',
    'file:3733ac4617c7c015f1f21cf790eeeb58',
    'kafka:auth-events:3:123456',
    'fp_2dac67a58230cc77598ee76ddbf0d037',
  ],
}

export interface CorpusResult {
  /** Key placements (key × context it can be recognised in × text/document). */
  keyPlacements: number
  /** Placements whose output still holds the raw key or a fragment of ≥ 8 of its characters. */
  missed: string[]
  keepSamples: number
  /** Identifiers the scrubber changed, as `group: value`. */
  changed: string[]
}

/**
 * Runs both corpora through a text scrubber and a document scrubber. A key counts
 * as caught when no 8-character window of it survives in the output (so a partly
 * replaced key is a miss) and something was replaced.
 */
export function runCorpora(
  scrubText: (text: string) => string,
  scrubDoc: (doc: unknown) => unknown,
): CorpusResult {
  const missed: string[] = []
  let keyPlacements = 0
  for (const key of KEY_CORPUS) {
    for (const ctx of KEY_CONTEXTS) {
      if (key.reach === 'credential' && ctx.reach === 'anywhere') continue
      for (const [how, out] of [
        ['text', scrubText(ctx.text(key.value))],
        ['document', JSON.stringify(scrubDoc(ctx.doc(key.value)))],
      ] as const) {
        keyPlacements++
        if (leaks(out, key.value) || !out.includes('fp_')) missed.push(`${key.kind} · ${ctx.name} · ${how}`)
      }
    }
  }
  const changed: string[] = []
  let keepSamples = 0
  for (const [group, values] of Object.entries(KEEP_CORPUS)) {
    for (const v of values) {
      keepSamples++
      const asText = scrubText(v)
      const asField = (scrubDoc({ user_agent: v, route: v, host: v }) as Record<string, unknown>).user_agent
      if (asText !== v || asField !== v) changed.push(`${group}: ${v}`)
    }
  }
  return { keyPlacements, missed, keepSamples, changed }
}

function leaks(out: string, key: string): boolean {
  const variants = [key, encodeURIComponent(key)]
  for (const k of variants) {
    const w = Math.min(8, k.length)
    for (let i = 0; i + w <= k.length; i++) if (out.includes(k.slice(i, i + w))) return true
  }
  return false
}

/** A small seeded generator (xorshift32), so the generated corpora are the same on every run. */
function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s / 4_294_967_296
  }
}

const ALPHABETS = {
  hex: { chars: '0123456789abcdef', min: 33, max: 64 },
  base64: { chars: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', min: 20, max: 64 },
  base64url: { chars: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_', min: 20, max: 64 },
  base62: { chars: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', min: 20, max: 64 },
} as const

/**
 * `perAlphabet` random keys with no prefix for each of hex (33–64 chars), base64,
 * base64url and base62 (20–64 chars): the keys a service generates itself.
 */
export function generatedKeys(
  perAlphabet: number,
  seed = 0x2545f491,
): Record<keyof typeof ALPHABETS, string[]> {
  const rnd = xorshift(seed)
  const out = {} as Record<keyof typeof ALPHABETS, string[]>
  for (const [name, a] of Object.entries(ALPHABETS) as [
    keyof typeof ALPHABETS,
    (typeof ALPHABETS)['hex'],
  ][]) {
    out[name] = []
    for (let i = 0; i < perAlphabet; i++) {
      const n = a.min + Math.floor(rnd() * (a.max - a.min + 1))
      let k = ''
      for (let j = 0; j < n; j++) k += a.chars[Math.floor(rnd() * a.chars.length)]
      out[name].push(k)
    }
  }
  return out
}

const TEAMS = ['payments', 'billing', 'ledger', 'checkout', 'risk', 'partner-acme', 'search', 'notify']
const ROLES = ['svc', 'worker', 'api', 'sync', 'cron', 'gateway']
const LIBS = [
  'okhttp/4.12.0',
  'axios/1.6.2',
  'python-requests/2.31.0',
  'Go-http-client/1.1',
  'stripe-node/14.10.0',
]
// Kubernetes pod-name suffixes use this alphabet (no vowels, no 0/1/3).
const POD_CHARS = 'bcdfghjklmnpqrstvwxz2456789'

/**
 * `count` client identities of the shapes services give themselves: numbered
 * service prefixes, pod names with their random suffixes, `name/semver lib/semver`.
 */
export function generatedClientIdentities(count: number, seed = 0x9e3779b9): string[] {
  const rnd = xorshift(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!
  const pod = (n: number) => Array.from({ length: n }, () => pick([...POD_CHARS])).join('')
  const semver = () => `${Math.floor(rnd() * 20)}.${Math.floor(rnd() * 60)}.${Math.floor(rnd() * 200)}`
  const out: string[] = []
  for (let i = 0; i < count; i++) {
    const name = `${pick(TEAMS)}-${pick(ROLES)}`
    switch (i % 4) {
      case 0:
        out.push(`svc-${String(Math.floor(rnd() * 100)).padStart(2, '0')}/${pick(LIBS)}`)
        break
      case 1:
        out.push(`${name}-${pod(10)}-${pod(5)}/${pick(LIBS)}`)
        break
      case 2:
        out.push(`${name}/${semver()} ${pick(LIBS)}`)
        break
      default:
        out.push(`${name}-${String(Math.floor(rnd() * 100)).padStart(2, '0')}/${semver()}/${pick(LIBS)}`)
    }
  }
  return out
}

// A real OpenID Connect provider for tests/registry/test_oidc.py: the certified
// oidc-provider (panva), standing in for a district's unified identity platform
// (统一身份认证). One static confidential client (the registry), authorization code with
// PKCE (S256) only; people sign in on the package's own interaction pages (any login, any
// password: the login becomes the person's `sub`), then consent. Never used outside tests.
//
//   node tests/oidc/provider.mjs   with OIDC_TEST_PORT, OIDC_TEST_CLIENT_ID,
//                                  OIDC_TEST_CLIENT_SECRET, OIDC_TEST_REDIRECT_URI
// prints "ready <issuer>" on stdout once it listens on 127.0.0.1.
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_TEST_PORT);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.OIDC_TEST_CLIENT_ID,
    client_secret: process.env.OIDC_TEST_CLIENT_SECRET,
    redirect_uris: [process.env.OIDC_TEST_REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  // the `sub` is the login typed on the provider's page; the registry maps it to the
  // staff record whose subject it is (docs/SECURITY.md "Single sign-on")
  async findAccount(ctx, id) {
    return { accountId: id, async claims() { return { sub: id, name: `IdP ${id}` }; } };
  },
  claims: { openid: ['sub'], profile: ['name'] },
  cookies: { keys: ['gridgov-test-oidc-cookie-key'] },
  features: { devInteractions: { enabled: true } },
});
provider.proxy = false;

const server = provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`ready ${issuer}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));

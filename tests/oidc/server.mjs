// A real OpenID provider for tests/oauth: `node server.mjs PORT`, clients from OIDC_CLIENTS
// (a JSON list of oidc-provider client metadata). devInteractions serves the login form
// (any login name; "unverified-..." names get email_verified=false) and the consent form.
import Provider from 'oidc-provider';

const port = Number(process.argv[2] || 4000);
const issuer = `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.OIDC_CLIENTS || '[]');

const provider = new Provider(issuer, {
  clients,
  pkce: { required: () => true, methods: ['S256'] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  cookies: { keys: ['convobase-test-cookie-key'] },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const email = id.includes('@') ? id : `${id}@example.com`;
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: email.replace(/^unverified-/, ''),
          email_verified: !id.startsWith('unverified-'),
          name: `Test ${id}`,
        };
      },
    };
  },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.listen(port, '127.0.0.1', () => console.log(`oidc-provider ready at ${issuer}`));

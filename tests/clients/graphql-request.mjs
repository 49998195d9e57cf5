// graphql-request with its default settings (POST, JSON): logs in, pages through one region,
// updates one household. Any GraphQL error makes graphql-request throw: exit status 1.
import { GraphQLClient } from 'graphql-request';
import { LOGIN, PAGE, UPDATE, fail, pageThrough, report, settings } from './common.mjs';

async function main() {
  const anonymous = new GraphQLClient(settings.url);
  const { login } = await anonymous.request(LOGIN, { username: settings.username, password: settings.password });
  if (login.__typename !== 'Tokens') fail('login refused', login);

  const client = new GraphQLClient(settings.url, { headers: { Authorization: `Bearer ${login.accessToken}` } });
  const paging = await pageThrough(
    async (after) => (await client.request(PAGE, { region: settings.region, first: settings.pageSize, after })).households,
  );
  if (!paging.first) fail(`region ${settings.region} has no households`);

  const { id, version, hasMotorcycle } = paging.first;
  const { updateHousehold: updated } = await client.request(UPDATE, { id, version, hasMotorcycle: !hasMotorcycle });
  if (updated.__typename !== 'Household' || updated.version !== version + 1) fail('updateHousehold', updated);
  report('graphql-request', paging, { before: { id, version, hasMotorcycle }, after: updated });
}

main().catch((error) => fail(error.message, error.response?.errors));

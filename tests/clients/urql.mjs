// urql with its documented default set-up (cacheExchange + fetchExchange): queries go as GET when
// they fit in a URL, mutations as POST. Logs in, pages through one region, updates one household.
import { Client, cacheExchange, fetchExchange } from '@urql/core';
import { LOGIN, PAGE, UPDATE, fail, pageThrough, report, settings } from './common.mjs';

let token = null;
const client = new Client({
  url: settings.url,
  exchanges: [cacheExchange, fetchExchange],
  fetchOptions: () => (token ? { headers: { Authorization: `Bearer ${token}` } } : {}),
});

function unwrap(result, what) {
  if (result.error) fail(`${what}: ${result.error.message}`, result.error.graphQLErrors);
  return result.data;
}

const login = unwrap(
  await client.mutation(LOGIN, { username: settings.username, password: settings.password }).toPromise(),
  'login',
).login;
if (login.__typename !== 'Tokens') fail('login refused', login);
token = login.accessToken;

const paging = await pageThrough(async (after) =>
  unwrap(
    await client.query(PAGE, { region: settings.region, first: settings.pageSize, after }).toPromise(),
    'households page',
  ).households,
);
if (!paging.first) fail(`region ${settings.region} has no households`);

const { id, version, hasMotorcycle } = paging.first;
const updated = unwrap(
  await client.mutation(UPDATE, { id, version, hasMotorcycle: !hasMotorcycle }).toPromise(),
  'updateHousehold',
).updateHousehold;
if (updated.__typename !== 'Household' || updated.version !== version + 1) fail('updateHousehold', updated);
report('urql', paging, { before: { id, version, hasMotorcycle }, after: updated });

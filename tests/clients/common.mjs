// What the client scripts share: where the API is, which region to page through, how to report.
// Settings come from the environment (tests/test_clients.py sets them):
//   SIKS_URL        the GraphQL endpoint, e.g. http://127.0.0.1:8000/graphql
//   SIKS_REGION     the region whose households are paged through, e.g. 32.01
//   SIKS_PAGE_SIZE  households per page (first:), default 50
//   SIKS_USERNAME / SIKS_PASSWORD  default admin / admin-password (the development first start's user)

export const settings = {
  url: process.env.SIKS_URL ?? 'http://127.0.0.1:8000/graphql',
  region: process.env.SIKS_REGION ?? '32.01',
  pageSize: Number(process.env.SIKS_PAGE_SIZE ?? '50'),
  username: process.env.SIKS_USERNAME ?? 'admin',
  password: process.env.SIKS_PASSWORD ?? 'admin-password',
};

export const LOGIN = `
  mutation Login($username: String!, $password: String!) {
    login(username: $username, password: $password) {
      __typename
      ... on Tokens { accessToken }
      ... on LoginFailed { message }
    }
  }`;

export const PAGE = `
  query Page($region: String!, $first: Int!, $after: String) {
    households(regionCode: $region, first: $first, after: $after) {
      totalCount
      edges { cursor node { id version hasMotorcycle } }
      pageInfo { hasNextPage endCursor }
    }
  }`;

export const UPDATE = `
  mutation Update($id: ID!, $version: Int!, $hasMotorcycle: Boolean!) {
    updateHousehold(id: $id, version: $version, changes: { hasMotorcycle: $hasMotorcycle }) {
      __typename
      ... on Household { id version hasMotorcycle }
      ... on ValidationError { message fields { field message } }
      ... on VersionConflict { currentVersion message }
      ... on NotFound { message }
    }
  }`;

/** Stops the script with a message on stderr and exit status 1. */
export function fail(message, detail) {
  console.error(`FAILED: ${message}`);
  if (detail !== undefined) console.error(JSON.stringify(detail, null, 2));
  process.exit(1);
}

/** Pages through every household of the region with `fetchPage(after)`; checks the pages add up. */
export async function pageThrough(fetchPage) {
  const ids = new Set();
  let after = null;
  let pages = 0;
  let totalCount = null;
  let first = null;
  for (;;) {
    const page = await fetchPage(after);
    pages += 1;
    totalCount ??= page.totalCount;
    if (page.totalCount !== totalCount) fail('totalCount changed between pages', page);
    for (const { node } of page.edges) {
      if (ids.has(node.id)) fail(`household ${node.id} came twice`);
      ids.add(node.id);
      first ??= node;
    }
    if (!page.pageInfo.hasNextPage) break;
    if (page.edges.length === 0 || !page.pageInfo.endCursor) fail('hasNextPage with an empty page', page);
    after = page.pageInfo.endCursor;
  }
  if (ids.size !== totalCount) fail(`paged through ${ids.size} households but totalCount says ${totalCount}`);
  return { households: ids.size, totalCount, pages, first };
}

/** Prints the run's one result line (JSON) that the test reads. */
export function report(client, paging, mutation) {
  const { first: _first, ...counts } = paging;
  console.log(JSON.stringify({ client, region: settings.region, ...counts, mutation }));
}

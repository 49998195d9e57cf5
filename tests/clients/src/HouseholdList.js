// A region's households as a Relay connection, paged forward (first/after) and backward
// (last/before), and the query that shows its first page.
import { graphql } from 'relay-runtime';

export const HouseholdList = graphql`
  fragment HouseholdList_query on Query
  @argumentDefinitions(
    regionCode: { type: "String!" }
    first: { type: "Int", defaultValue: 50 }
    after: { type: "String" }
    last: { type: "Int" }
    before: { type: "String" }
  )
  @refetchable(queryName: "HouseholdListPaginationQuery") {
    households(regionCode: $regionCode, first: $first, after: $after, last: $last, before: $before)
      @connection(key: "HouseholdList_households") {
      totalCount
      edges {
        node {
          id
          ...HouseholdCard_household
        }
      }
    }
  }
`;

export const HouseholdsPage = graphql`
  query HouseholdListPageQuery($regionCode: String!) {
    ...HouseholdList_query @arguments(regionCode: $regionCode)
  }
`;

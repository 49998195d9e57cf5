// A household with its members, refetchable by its id through Query.node.
import { graphql } from 'relay-runtime';

export const HouseholdCard = graphql`
  fragment HouseholdCard_household on Household @refetchable(queryName: "HouseholdCardRefetchQuery") {
    id
    kkNumber
    version
    address
    status
    region {
      ...RegionCard_region
    }
    members {
      id
      nik
      name
      sex
      birthDate
      relationship
    }
  }
`;

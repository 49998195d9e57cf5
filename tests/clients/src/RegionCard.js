// A region with its parent, refetchable by its id through Query.node.
import { graphql } from 'relay-runtime';

export const RegionCard = graphql`
  fragment RegionCard_region on Region @refetchable(queryName: "RegionCardRefetchQuery") {
    id
    code
    name
    level
    parent {
      code
      name
    }
  }
`;

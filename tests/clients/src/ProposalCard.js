// A verification proposal with its proposed values, refetchable by its id through Query.node.
import { graphql } from 'relay-runtime';

export const ProposalCard = graphql`
  fragment ProposalCard_proposal on Proposal @refetchable(queryName: "ProposalCardRefetchQuery") {
    id
    kind
    status
    stage
    note
    version
    village {
      ...RegionCard_region
    }
    changes {
      memberId
      current
      proposed
    }
  }
`;

// phrase: community $id
// description: The persons of one community and the identifiers they share
// param: $id string Community community_id
// sample: MATCH (c:Community) RETURN c.community_id AS id ORDER BY c.size DESC LIMIT 1
MATCH path = (:Community {community_id: $id})<-[:MEMBER_OF]-(p:Person)
OPTIONAL MATCH shared = (p)-[:HAS_PHONE|HAS_ACCOUNT|HAS_ADDRESS]->()
RETURN path, shared
LIMIT 2000

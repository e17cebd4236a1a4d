// phrase: ring around person $id
// description: A person's leads, community and the persons sharing a phone, account or address with them
// param: $id string Person person_id
// sample: MATCH (l:Lead)-[:INVOLVES]->(p:Person) RETURN p.person_id AS id ORDER BY l.score DESC LIMIT 1
MATCH (p:Person {person_id: $id})
CALL (p) {
  MATCH path = (p)<-[:INVOLVES]-(:Lead)-[:INVOLVES]->()
  RETURN path
  UNION
  MATCH path = (p)-[:MEMBER_OF]->(:Community)<-[:MEMBER_OF]-(:Person)
  RETURN path
  UNION
  MATCH path = (p)-[:HAS_PHONE|HAS_ACCOUNT|HAS_ADDRESS]->()<-[:HAS_PHONE|HAS_ACCOUNT|HAS_ADDRESS]-(:Person)
  RETURN path
}
RETURN path
LIMIT 1000

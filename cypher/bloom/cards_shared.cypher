// phrase: cards shared by at least $n persons
// description: Cards settled for someone other than the holder, or whose holders share one phone or account with others
// param: $n integer
// sample: RETURN 2 AS n
CALL () {
  MATCH (c:Card)<-[:WITH_CARD]-(:Claim)-[:BY_PERSON]->(p:Person)
  WITH c, count(DISTINCT p) AS persons
  WHERE persons >= $n
  MATCH path = (c)<-[:WITH_CARD]-(:Claim)-[:BY_PERSON]->(:Person)
  RETURN path
  UNION
  MATCH (x)<-[:HAS_PHONE|HAS_ACCOUNT]-(p:Person)-[:HOLDS]->(:Card)
  WITH x, count(DISTINCT p) AS persons
  WHERE persons >= $n
  MATCH path = (x)<-[:HAS_PHONE|HAS_ACCOUNT]-(:Person)-[:HOLDS]->(:Card)
  RETURN path
}
RETURN path
LIMIT 2000

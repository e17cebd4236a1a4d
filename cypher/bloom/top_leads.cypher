// phrase: top leads
// description: The twenty best leads and their members
// sample: RETURN 1 AS unused
MATCH (l:Lead)
WITH l ORDER BY l.score DESC LIMIT 20
MATCH path = (l)-[:INVOLVES]->()
RETURN path

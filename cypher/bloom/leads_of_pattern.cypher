// phrase: leads of pattern $pattern
// description: Every lead a detector raised (co_admission, shared_card, fake_invoice, pharmacy_resale, referral_loop, community)
// param: $pattern string Lead pattern
// sample: MATCH (l:Lead) RETURN l.pattern AS pattern ORDER BY l.score DESC LIMIT 1
MATCH (l:Lead)
WHERE l.pattern CONTAINS $pattern
MATCH path = (l)-[:INVOLVES]->()
RETURN path
LIMIT 2000

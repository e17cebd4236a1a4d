// phrase: claimants of agent $phone
// description: Window reimbursements submitted through one phone, their claimants, payee accounts and invoices
// param: $phone string Phone key
// sample: MATCH (ph:Phone)<-[:SUBMITTED_BY]-(r:Reimbursement) WITH ph, count(r) AS n ORDER BY n DESC LIMIT 1 RETURN ph.key AS phone
MATCH (ph:Phone {key: $phone})<-[:SUBMITTED_BY]-(r:Reimbursement)
MATCH path = (ph)<-[:SUBMITTED_BY]-(r)-[:BY_PERSON]->(:Person)
OPTIONAL MATCH pay = (r)-[:PAID_TO]->(:Account)
OPTIONAL MATCH inv = (r)-[:HAS_INVOICE]->(:Invoice)-[:ISSUED_BY]->(:Institution)
RETURN path, pay, inv
LIMIT 1000

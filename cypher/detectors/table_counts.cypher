// Rows of each canonical table held in the graph (one row of counts).
CALL () { MATCH (n:Person) RETURN count(n) AS persons }
CALL () { MATCH (n:Card) RETURN count(n) AS cards }
CALL () { MATCH (n:Institution) WHERE NOT coalesce(n.external, false) RETURN count(n) AS institutions }
CALL () { MATCH (n:Pharmacy) RETURN count(n) AS pharmacies }
CALL () { MATCH (n:Doctor) RETURN count(n) AS doctors }
CALL () { MATCH (n:Claim) RETURN count(n) AS claims }
CALL () { MATCH ()-[r:INCLUDES]->() RETURN count(r) AS claim_items }
CALL () { MATCH (n:Reimbursement) RETURN count(n) AS reimbursements }
CALL () { MATCH (n:Invoice) RETURN count(n) AS invoices }
CALL () { MATCH ()-[r:REFERRED]->() RETURN count(r) AS referrals }
RETURN persons, cards, institutions, pharmacies, doctors, claims, claim_items,
       reimbursements, invoices, referrals
